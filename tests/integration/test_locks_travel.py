"""Locks that travel, against real servers, real pip and real uv.

Offline sync with both index servers stopped (cache, ``--wheelhouse``, ``--offline``), locks
written by ``pip lock`` and ``uv pip compile`` read by spip and spip's read by pip and uv, a
normalized-filename lock, one lock for two environments, and ``--upgrade-package``.  Tests that
stop servers start their own pair over copies of the world's packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from tests.conftest import USERNAME, World
from tests.support.environment import installed, make_venv, run_spip, store_password, tree_digest
from tests.support.packages import build_wheel
from tests.support.servers import IndexServer, start_server

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOTS = ("acme-utils", "publicdep")
EXPECTED = {"acme-core": "1.1.0", "acme-utils": "1.0.0", "publicdep": "1.0.0"}


def spip(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_spip(list(args), env, cwd=cwd)


@dataclass
class Pair:
    """Our own private (basic auth) and public servers, stoppable by PID mid-test."""

    private: IndexServer
    public: IndexServer
    map_path: Path
    env: dict[str, str]

    def requests(self) -> int:
        return len(self.private.requests()) + len(self.public.requests())


@pytest.fixture
def pair(world: World, env: dict[str, str], tmp_path: Path) -> Iterator[Pair]:
    private_dir, public_dir = tmp_path / "private-packages", tmp_path / "public-packages"
    shutil.copytree(world.root / "private-packages", private_dir)
    shutil.copytree(world.root / "public-packages", public_dir)
    # An old-style spelling the index serves as is (PEP 427 normalization would say
    # legacy_socks): locks that spell it normalized must still sync.
    built = build_wheel(tmp_path / "built", "legacy-socks", "1.0.0")
    shutil.copyfile(built, public_dir / "Legacy_Socks-1.0.0-py3-none-any.whl")
    private = start_server(
        private_dir, tmp_path / "private-server", username=USERNAME, password=world.password
    )
    public = start_server(public_dir, tmp_path / "public-server")
    try:
        own_env = dict(env)
        store_password(own_env, private.url, USERNAME, world.password)
        map_path = tmp_path / "spip.toml"
        map_path.write_text(
            'default = "public"\n'
            f'[indexes.private]\nurl = "{private.url}"\nusername = "{USERNAME}"\n'
            f'[indexes.public]\nurl = "{public.url}"\n[packages]\n"acme-*" = "private"\n'
        )
        yield Pair(private, public, map_path, own_env)
    finally:
        private.stop()
        public.stop()


def cached_wheels(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["SPIP_CACHE_DIR"]).rglob("artifacts/**/*.whl"))


def test_offline_sync_with_both_servers_stopped(pair: Pair, tmp_path: Path) -> None:
    env, lock = pair.env, tmp_path / "pylock.toml"
    result = spip(env, tmp_path, "lock", "--map", str(pair.map_path), *ROOTS, "-o", str(lock))
    assert result.returncode == 0, result.stderr
    assert len(cached_wheels(env)) == 3  # locking read each wheel's metadata from the wheel
    house = tmp_path / "house"
    house.mkdir()
    anonymous = {}
    for number, wheel in enumerate(cached_wheels(env)):
        anonymous[wheel.name] = house / f"file-{number}.bin"
        shutil.copyfile(wheel, anonymous[wheel.name])
    pair.private.stop()
    pair.public.stop()
    # From the cache: no index needed, not even without --offline.
    from_cache = make_venv(tmp_path / "from-cache")
    result = spip(
        env, tmp_path, "sync", "--map", str(pair.map_path), "--python", str(from_cache), str(lock)
    )
    assert result.returncode == 0, result.stderr
    assert "no index was asked" in result.stdout
    assert installed(from_cache) == EXPECTED
    # From a wheelhouse of anonymous files, with an empty cache, --offline.
    fresh = dict(env, SPIP_CACHE_DIR=str(tmp_path / "fresh-cache"))
    from_house = make_venv(tmp_path / "from-house")
    args = ["--map", str(pair.map_path), "--python", str(from_house), "--offline"]
    result = spip(fresh, tmp_path, "sync", *args, "--wheelhouse", str(house), str(lock))
    assert result.returncode == 0, result.stderr
    assert installed(from_house) == EXPECTED
    # --offline with one file missing: exit 5 at once, naming it; the target untouched.
    missing = make_venv(tmp_path / "missing")
    anonymous["acme_core-1.1.0-py3-none-any.whl"].unlink()
    emptier = dict(env, SPIP_CACHE_DIR=str(tmp_path / "empty-cache"))
    before = tree_digest(missing.parent.parent)
    args = ["--map", str(pair.map_path), "--python", str(missing), "--offline"]
    result = spip(emptier, tmp_path, "sync", *args, "--wheelhouse", str(house), str(lock))
    assert result.returncode == 5, result.stderr
    assert "1 file(s)" in result.stderr and "acme_core-1.1.0-py3-none-any.whl" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_digest(missing.parent.parent) == before


def _pip_lock(pair: Pair, tmp_path: Path, index: IndexServer, *reqs: str) -> Path:
    """``pip lock`` against one of our indexes (credentials through a netrc file)."""
    home = Path(pair.env["HOME"])
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {pair.private.password}\n")
    netrc.chmod(0o600)
    lock = tmp_path / f"pylock.pip-{index.port}.toml"
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "lock",
                "-q",
                "--disable-pip-version-check",
                "--index-url",
                index.url,
                "-o",
                str(lock),
                *reqs,
            ],
            env=dict(pair.env, PIP_CONFIG_FILE=os.devnull),
            capture_output=True,
            text=True,
        )
    finally:
        netrc.unlink()
    assert done.returncode == 0, done.stderr
    return lock


def test_a_pip_lock_is_checked_and_synced_and_a_foreign_url_refused(
    pair: Pair, tmp_path: Path
) -> None:
    lock = _pip_lock(pair, tmp_path, pair.private, "acme-utils")
    data = tomllib.loads(lock.read_text())
    assert data["created-by"] == "pip" and all("index" not in p for p in data["packages"])
    check = spip(pair.env, tmp_path, "check", "--map", str(pair.map_path), "--online", str(lock))
    assert check.returncode == 0, check.stdout + check.stderr
    venv = make_venv(tmp_path / "pip-lock")
    args = ["--map", str(pair.map_path), "--python", str(venv)]
    assert spip(pair.env, tmp_path, "sync", *args, str(lock)).returncode == 0
    assert installed(venv) == {"acme-core": "1.1.0", "acme-utils": "1.0.0"}
    # The same lock with acme-core's file on the public host and no index key: refused.
    private_origin = pair.private.url[: -len("simple/")]
    public_origin = pair.public.url[: -len("simple/")]
    moved = tmp_path / "pylock.moved.toml"
    moved.write_text(
        lock.read_text().replace(
            f"{private_origin}packages/acme_core", f"{public_origin}packages/acme_core"
        )
    )
    check = spip(pair.env, tmp_path, "check", "--map", str(pair.map_path), "--json", str(moved))
    assert check.returncode == 1
    kinds = [
        (f["kind"], f["package"])
        for f in json.loads(check.stdout)["findings"]
        if f["severity"] == "error"
    ]
    assert kinds == [("lock-url", "acme-core")]
    since = pair.public.mark()
    other = make_venv(tmp_path / "moved")
    result = spip(
        pair.env, tmp_path, "sync", "--map", str(pair.map_path), "--python", str(other), str(moved)
    )
    assert result.returncode == 3 and "not on index private" in result.stderr
    assert installed(other) == {} and pair.public.requests()[since:] == []


def _uv(pair: Pair, *args: str) -> subprocess.CompletedProcess[str]:
    uv = Path(sys.executable).parent / "uv"
    home = Path(pair.env["HOME"])
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {pair.private.password}\n")
    netrc.chmod(0o600)
    try:
        return subprocess.run(
            [str(uv), *args],
            env=dict(pair.env, UV_NO_CONFIG="1", UV_CACHE_DIR=str(home / "uv-cache")),
            capture_output=True,
            text=True,
        )
    finally:
        netrc.unlink()


def test_a_uv_lock_is_read_by_spip(pair: Pair, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.in"
    requirements.write_text("acme-utils\npublicdep\nlegacy-socks\n")
    lock = tmp_path / "pylock.toml"
    # uv asks --extra-index-url first: the private names come from the private index.
    done = _uv(
        pair,
        "pip",
        "compile",
        "-q",
        "--format",
        "pylock.toml",
        "--index-url",
        pair.public.url,
        "--extra-index-url",
        pair.private.url,
        str(requirements),
        "-o",
        str(lock),
    )
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(lock.read_text())["created-by"] == "uv"
    check = spip(pair.env, tmp_path, "check", "--map", str(pair.map_path), "--online", str(lock))
    assert check.returncode == 0, check.stdout + check.stderr
    venv = make_venv(tmp_path / "uv-lock")
    result = spip(
        pair.env, tmp_path, "sync", "--map", str(pair.map_path), "--python", str(venv), str(lock)
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {**EXPECTED, "legacy-socks": "1.0.0"}


def test_a_lock_with_normalized_file_names_syncs(pair: Pair, tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    args = ["--map", str(pair.map_path)]
    assert spip(pair.env, tmp_path, "lock", *args, "legacy-socks", "-o", str(lock)).returncode == 0
    text = lock.read_text()
    assert "Legacy_Socks-1.0.0-py3-none-any.whl" in text
    lock.write_text(text.replace("Legacy_Socks-1.0.0", "legacy_socks-1.0.0"))
    check = spip(pair.env, tmp_path, "check", *args, "--online", str(lock))
    assert check.returncode == 0, check.stdout + check.stderr
    fresh = dict(pair.env, SPIP_CACHE_DIR=str(tmp_path / "fresh-cache"))  # must ask the index
    venv = make_venv(tmp_path / "normalized")
    result = spip(fresh, tmp_path, "sync", *args, "--python", str(venv), str(lock))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"legacy-socks": "1.0.0"}


def test_spips_lock_is_read_by_pip_and_uv(pair: Pair, tmp_path: Path) -> None:
    lock = tmp_path / "pylock.toml"
    assert (
        spip(
            pair.env, tmp_path, "lock", "--map", str(pair.map_path), *ROOTS, "-o", str(lock)
        ).returncode
        == 0
    )
    by_pip = make_venv(tmp_path / "by-pip")
    home = Path(pair.env["HOME"])
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {pair.private.password}\n")
    netrc.chmod(0o600)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(by_pip),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(lock),
            ],
            env=dict(pair.env, PIP_CONFIG_FILE=os.devnull),
            capture_output=True,
            text=True,
        )
    finally:
        netrc.unlink()
    assert done.returncode == 0, done.stderr
    assert installed(by_pip) == EXPECTED
    by_uv = make_venv(tmp_path / "by-uv")
    done = _uv(pair, "pip", "sync", "-q", "--python", str(by_uv), str(lock))
    assert done.returncode == 0, done.stderr
    assert installed(by_uv) == EXPECTED


def test_one_lock_for_two_environments_and_an_uncovered_sync(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    other = "3.12" if sys.version_info[:2] != (3, 12) else "3.13"
    map_path = world.write_map(tmp_path / "spip.toml")
    map_path.write_text(
        f"environments = [\"sys_platform == 'linux' and python_version == '{other}'\", "
        f"\"sys_platform == 'darwin' and python_version == '{other}'\"]\n" + map_path.read_text()
    )
    lock = tmp_path / "pylock.toml"
    result = spip(env, tmp_path, "lock", "--map", str(map_path), "acme-native", "-o", str(lock))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("locked for") == 2
    parsed = Pylock.from_dict(tomllib.loads(lock.read_text()))
    assert parsed.environments is not None and len(parsed.environments) == 2
    assert str(parsed.requires_python) == f"=={other}.*"
    native = next(p for p in parsed.packages if p.name == "acme-native")
    assert sorted(w.filename for w in native.wheels or ()) == [
        "acme_native-1.0.0-py3-none-macosx_11_0_arm64.whl",
        "acme_native-1.0.0-py3-none-manylinux_2_17_x86_64.whl",
    ]
    # This interpreter is not one of them: refused before any download.
    since = world.private.mark()
    fresh = dict(env, SPIP_CACHE_DIR=str(tmp_path / "fresh-cache"))
    synced = spip(fresh, tmp_path, "sync", "--map", str(map_path), "--python", str(venv), str(lock))
    assert synced.returncode == 4, synced.stderr
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f'python_version == "{running}"' in synced.stderr
    assert f'python_version == "{other}"' in synced.stderr
    assert world.private.requests()[since:] == [] and installed(venv) == {}


def test_upgrade_package_changes_exactly_one_package(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    args = ["lock", "--map", str(spip_map), "-o", str(lock)]
    assert (
        spip(
            env, tmp_path, *args, "acme-core==1.0.0", "acme-dual==1.0.0", "requests-lite"
        ).returncode
        == 0
    )
    before = {p["name"]: p for p in tomllib.loads(lock.read_text())["packages"]}
    kept = spip(env, tmp_path, *args, "acme-core", "acme-dual", "requests-lite")
    assert kept.returncode == 0, kept.stderr
    assert {p["name"]: p for p in tomllib.loads(lock.read_text())["packages"]} == before
    moved = spip(
        env,
        tmp_path,
        *args,
        "acme-core",
        "acme-dual",
        "requests-lite",
        "--upgrade-package",
        "acme-core",
    )
    assert moved.returncode == 0, moved.stderr
    assert "acme-core 1.0.0 -> 1.1.0" in moved.stderr
    after = {p["name"]: p for p in tomllib.loads(lock.read_text())["packages"]}
    assert after["acme-core"]["version"] == "1.1.0"
    assert {n: p for n, p in after.items() if n != "acme-core"} == {
        n: p for n, p in before.items() if n != "acme-core"
    }
