"""The attack is real: plain pip with an extra index installs the public impostor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import installed

pytestmark = pytest.mark.slow


def test_plain_pip_installs_the_impostor(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {world.password}\n")
    netrc.chmod(0o600)
    pip_env = dict(env, PIP_CONFIG_FILE=os.devnull)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv),
            "install",
            "-q",
            "--disable-pip-version-check",
            "--index-url",
            world.private.url,
            "--extra-index-url",
            world.public.url,
            "acme-core",
        ],
        env=pip_env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert installed(venv)["acme-core"] == "99.0.0"
    assert "acme-core" in world.marker_files()
