"""The fast path, for behaviour (never timings): verified cache reuse, HTTP revalidation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import installed, make_venv, run_spip
from tests.support.packages import build_wheel
from tests.support.servers import start_static_server

pytestmark = pytest.mark.slow


def test_tampered_cache_entry_is_detected_and_fetched_again(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env
        ).returncode
        == 0
    )
    cache = Path(env["SPIP_CACHE_DIR"])
    (cached,) = [p for p in cache.rglob("acme_core-1.1.0-*.whl")]
    cached.write_bytes(b"tampered")
    since = world.private.mark()
    other = make_venv(tmp_path / "other")
    result = run_spip(["install", "--map", str(spip_map), "--python", str(other), "acme-core"], env)
    assert result.returncode == 0, result.stderr
    assert installed(other) == {"acme-core": "1.1.0"}
    assert cached.read_bytes() != b"tampered"  # re-downloaded and verified
    assert any(e["path"].endswith(".whl") for e in world.private.requests()[since:])


def test_verified_cache_is_reused_without_downloads(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-utils"], env
        ).returncode
        == 0
    )
    since = world.private.mark()
    other = make_venv(tmp_path / "other")
    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(other), "acme-utils"], env
        ).returncode
        == 0
    )
    assert not any("/packages/" in e["path"] for e in world.private.requests()[since:])


def test_project_pages_are_revalidated_not_refetched(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    # A static index (http.server sends Last-Modified and answers 304 to If-Modified-Since).
    root = tmp_path / "static"
    page = root / "simple" / "static-pkg"
    page.mkdir(parents=True)
    wheel = build_wheel(root / "files", "static-pkg", "1.0.0")
    import hashlib

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (page / "index.html").write_text(
        f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>'
    )
    static = start_static_server(root, tmp_path / "static-server")
    try:
        url = f"{static.origin}/simple/"
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(f'default = "static"\n[indexes.static]\nurl = "{url}"\n')
        for number in range(2):
            target = make_venv(tmp_path / f"v{number}")
            result = run_spip(
                ["install", "--map", str(spip_map), "--python", str(target), "static-pkg"], env
            )
            assert result.returncode == 0, result.stderr
        page_hits = [line for line in static.log_lines() if "/simple/static-pkg/" in line]
        assert len(page_hits) == 2
        assert " 200 " in page_hits[0] and " 304 " in page_hits[1]
    finally:
        static.stop()


def test_no_op_memo_answers_until_the_environment_changes(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    import subprocess
    import sys

    argv = ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"]
    assert run_spip(argv, env).returncode == 0
    memos = list((Path(env["SPIP_CACHE_DIR"]) / "noop").glob("*.json"))
    assert len(memos) == 1  # written after the install, which left nothing to do
    since = world.private.mark()
    again = run_spip(argv, env)
    assert again.returncode == 0 and "Nothing to install" in again.stdout
    assert world.private.requests()[since:] == []
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv), "uninstall", "-y", "-q", "acme-core"],
        env=env,
        check=True,
    )
    assert installed(venv) == {}
    third = run_spip(argv, env)
    assert third.returncode == 0, third.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}


def _loaded(argv: list[str], env: dict[str, str], heavy: tuple[str, ...]) -> tuple[object, str]:
    """Run spip's console entry in a fresh interpreter: ``[exit code, the modules of
    ``heavy`` it imported]`` (a module, or any module of a package named there), and stdout."""
    import json
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from pipx_secure.cli.quick import main\n"
        "code = main(sys.argv[1:])\n"
        f"heavy = {heavy!r}\n"
        "print(json.dumps([code, sorted(m for m in sys.modules\n"
        "    if m in heavy or m.split('.')[0] in heavy)]))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(ran.stdout.splitlines()[-1]), ran.stdout


def test_a_satisfied_install_imports_no_http_keyring_or_terminal_library(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    import shutil

    argv = ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"]
    assert run_spip(argv, env).returncode == 0
    heavy = ("requests", "urllib3", "cachecontrol", "keyring", "rich", "filelock")
    assert _loaded(argv, env, heavy)[0] == [0, []]
    shutil.rmtree(Path(env["SPIP_CACHE_DIR"]) / "noop")  # the full no-op check, no memo
    assert _loaded(argv, env, heavy)[0] == [0, []]


def test_a_dry_run_imports_no_install_machinery(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    argv = ["install", "--dry-run", "--map", str(spip_map), "--python", str(venv), "acme-core"]
    heavy = ("pipx_secure.install.apply", "pipx_secure.install.bytecode")
    loaded, stdout = _loaded(argv, env, heavy)
    assert loaded == [0, []]
    assert "acme-core 1.1.0" in stdout and installed(venv) == {}
