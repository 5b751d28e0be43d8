"""The attack is real: plain pip with an extra index installs the public impostor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import installed
from tests.support.world import plain_pip_install

pytestmark = pytest.mark.slow


def test_plain_pip_installs_the_impostor(world: World, env: dict[str, str], venv: Path) -> None:
    completed = plain_pip_install(world, env, venv, "acme-core")
    assert completed.returncode == 0, completed.stderr
    assert installed(venv)["acme-core"] == "99.0.0"
    assert "acme-core" in world.marker_files()
