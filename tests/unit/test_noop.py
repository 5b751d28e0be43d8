"""The no-op memo: which commands it answers, what invalidates it, and that it is sealed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipx_secure.commands.install import InstallSettings
from pipx_secure.commands.noop import depends_on, eligible, memo_key, quick_noop, remember
from tests.unit.fakes import Rig, make_rig

ARGV = ["-q", "--map", "/p/spip.toml", "--python", "/v/bin/python", "acme-utils"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (ARGV, True),
        (["acme-utils", "--installer", "uv", "--no-compile"], True),
        (["-r", "requirements.txt"], False),
        (["-rrequirements.txt"], False),
        (["--requirement=requirements.txt"], False),
        (["-c", "constraints.txt", "x"], False),
        (["-e", "."], False),
        (["./project"], False),
        (["pkg @ https://example.invalid/pkg.whl"], False),
        (["-U", "x"], False),
        (["--force-reinstall", "x"], False),
        (["--dry-run", "x"], False),
        (["--target", "/t", "x"], False),
        (["--user", "x"], False),
        (["-vv", "x"], False),
        # Anything not on the allow-list runs normally: files read, locations elsewhere,
        # checks that must run every time, and options spip does not know yet.
        (["--prefix", "/p", "x"], False),
        (["--root", "/r", "x"], False),
        (["-I", "x"], False),
        (["--require-hashes", "x"], False),
        (["--requirements-from-script", "s.py"], False),
        (["--group", "dev"], False),
        (["--cert", "ca.pem", "x"], False),
        (["--some-future-option", "x"], False),
        (["-qq", "--pre", "--no-deps", "x"], True),
        (["--map"], False),
    ],
)
def test_only_plain_commands_are_memoized(argv: list[str], expected: bool) -> None:
    assert eligible(argv) is expected


def _remembered(tmp_path: Path) -> tuple[Rig, list[str]]:
    rig = make_rig(tmp_path, extra_env={"SPIP_CACHE_KEY_FILE": str(tmp_path / "cache.key")})
    rig.processes.put("acme-utils", "1.0.0")
    (rig.prefix / "spip-provenance.json").write_text("{}")
    argv = ["--map", str(rig.map_path), "acme-utils"]
    remember(argv, InstallSettings(map_path=rig.map_path), rig.services)
    return rig, argv


def _quick(rig: Rig, argv: list[str]) -> bool:
    return quick_noop(argv, rig.services.environ, rig.services.cwd)


def test_a_memo_answers_the_same_command_until_something_it_read_changes(
    tmp_path: Path,
) -> None:
    rig, argv = _remembered(tmp_path)
    watched = {str(p) for p in depends_on(InstallSettings(map_path=rig.map_path), rig.services)}
    assert {str(rig.map_path), str(rig.site), str(rig.prefix / "spip-provenance.json")} <= watched
    assert _quick(rig, argv)
    assert not _quick(rig, [*argv, "six-lite"])  # another command
    environ = dict(rig.services.environ, PIP_INDEX_URL="https://other.example/simple/")
    assert not quick_noop(argv, environ, rig.services.cwd)  # another meaning
    rig.processes.put("six-lite", "1.16.0")  # something installed or removed since
    assert not _quick(rig, argv)


@pytest.mark.parametrize("change", ["map", "provenance"])
def test_a_changed_map_or_provenance_voids_the_memo(tmp_path: Path, change: str) -> None:
    rig, argv = _remembered(tmp_path)
    path = rig.map_path if change == "map" else rig.prefix / "spip-provenance.json"
    path.write_text(path.read_text() + "\n")
    assert not _quick(rig, argv)


def test_a_memo_forged_in_the_cache_is_not_believed(tmp_path: Path) -> None:
    rig, argv = _remembered(tmp_path)
    key = memo_key(argv, rig.services.cwd, rig.services.environ)
    memo = rig.cache.root / "noop" / f"{key}.json"
    rig.processes.put("six-lite", "1.16.0")
    header, _, data = memo.read_bytes().partition(b"\n")
    files = json.loads(data)["files"]
    for entry in files:  # the signatures of the new state, under the old seal
        info = os.stat(entry[0]) if os.path.exists(entry[0]) else None
        entry[1] = f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}" if info else "-"
    memo.write_bytes(header + b"\n" + json.dumps({"files": files}).encode())
    assert not _quick(rig, argv)


def test_the_console_script_exits_with_the_code_and_skips_the_exit_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from pipx_secure.cli import quick

    monkeypatch.setattr(quick, "main", lambda argv=None: 4)
    try:
        with pytest.raises(SystemExit) as info:
            quick.entry()
        assert info.value.code == 4
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
