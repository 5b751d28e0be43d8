"""The Makefile, pre-commit and CI examples shipped in the repository really work."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import run_spip

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def project(world: World, tmp_path: Path, env: dict[str, str], *, tampered: bool) -> Path:
    world.write_map(tmp_path / "spip.toml")
    (tmp_path / "requirements.txt").write_text("acme-utils\npublicdep\n")
    locked = run_spip(
        ["lock", "--map", "spip.toml", "-r", "requirements.txt", "-o", "pylock.toml"],
        env,
        cwd=tmp_path,
    )
    assert locked.returncode == 0, locked.stderr
    if tampered:
        text = (tmp_path / "pylock.toml").read_text()
        chunks = text.split("[[packages]]")
        chunks = [
            c.replace(world.private.url, world.public.url) if 'name = "acme-core"' in c else c
            for c in chunks
        ]
        (tmp_path / "pylock.toml").write_text("[[packages]]".join(chunks))
    return tmp_path


def with_spip_on_path(env: dict[str, str]) -> dict[str, str]:
    return dict(env, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")


@pytest.mark.parametrize("tampered", [False, True])
def test_makefile_target(world: World, env: dict[str, str], tmp_path: Path, tampered: bool) -> None:
    root = project(world, tmp_path, env, tampered=tampered)
    result = subprocess.run(
        ["make", "-s", "-f", str(REPO / "examples" / "Makefile"), "check-sources"],
        cwd=root,
        env=with_spip_on_path(env),
        capture_output=True,
        text=True,
    )
    assert (result.returncode == 0) is (not tampered), result.stdout + result.stderr
    if tampered:
        assert "acme-core" in result.stdout


def test_pre_commit_hook_definition(world: World, env: dict[str, str], tmp_path: Path) -> None:
    hook = (REPO / ".pre-commit-hooks.yaml").read_text()
    entry = re.search(r"^\s*entry:\s*(.+)$", hook, re.M)
    pattern = re.search(r"^\s*files:\s*'(.+)'$", hook, re.M)
    assert entry and pattern
    root = project(world, tmp_path, env, tampered=True)
    files = [p.name for p in root.iterdir() if re.search(pattern.group(1), p.name)]
    assert sorted(files) == ["pylock.toml", "requirements.txt"]
    argv = [*shlex.split(entry.group(1)), "--map", "spip.toml", *sorted(files)]
    result = subprocess.run(
        argv, cwd=root, env=with_spip_on_path(env), capture_output=True, text=True
    )
    assert result.returncode == 1 and "lock-index" in result.stdout


def test_ci_step(world: World, env: dict[str, str], tmp_path: Path) -> None:
    step = (REPO / "examples" / "ci-step.yml").read_text()
    command = re.search(r"^\s*run:\s*(.+)$", step, re.M)
    assert command
    root = project(world, tmp_path, env, tampered=False)
    result = subprocess.run(
        command.group(1),
        shell=True,
        cwd=root,
        env=with_spip_on_path(env),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "spip-check.json").read_text())
    assert report["ok"] is True and report["schema"] == 1
