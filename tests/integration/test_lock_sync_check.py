"""spip lock / sync / check against the real servers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from tests.conftest import World
from tests.support.environment import installed, make_venv, run_spip, tree_digest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.slow


def spip(env: dict[str, str], cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_spip(list(args), env, cwd=cwd)


def freeze(env: dict[str, str], cwd: Path, venv: Path) -> str:
    result = spip(env, cwd, "freeze", "--python", str(venv))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_lock_then_sync_round_trip(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    result = spip(
        env, tmp_path, "lock", "--map", str(spip_map), "acme-built", "publicdep", "-o", str(lock)
    )
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(lock.read_text())
    parsed = Pylock.from_dict(data)  # standard PEP 751, validated by packaging
    indexes = {p.name: p.index for p in parsed.packages}
    assert indexes["acme-core"] == world.private.url
    assert indexes["publicdep"] == world.public.url
    assert world.password not in lock.read_text()
    # Install the same requirements directly, and sync the lock into a fresh venv.
    direct = spip(
        env,
        tmp_path,
        "install",
        "--map",
        str(spip_map),
        "--python",
        str(venv),
        "acme-built",
        "publicdep",
    )
    assert direct.returncode == 0, direct.stderr
    synced = make_venv(tmp_path / "synced")
    result = spip(env, tmp_path, "sync", "--map", str(spip_map), "--python", str(synced), str(lock))
    assert result.returncode == 0, result.stderr
    assert freeze(env, tmp_path, synced) == freeze(env, tmp_path, venv)
    assert installed(synced)["acme-core"] == "1.1.0"
    assert world.marker_files() == []


def test_relock_is_byte_identical(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    assert (
        spip(
            env, tmp_path, "lock", "--map", str(spip_map), "acme-utils", "-o", str(lock)
        ).returncode
        == 0
    )
    first = lock.read_bytes()
    stamp = lock.stat().st_mtime_ns
    result = spip(env, tmp_path, "lock", "--map", str(spip_map), "acme-utils", "-o", str(lock))
    assert result.returncode == 0
    assert lock.read_bytes() == first
    assert lock.stat().st_mtime_ns == stamp  # nothing rewritten
    assert "up to date" in result.stderr


def _tampered_lock(world: World, env: dict[str, str], spip_map: Path, tmp_path: Path) -> Path:
    lock = tmp_path / "pylock.toml"
    assert (
        spip(
            env, tmp_path, "lock", "--map", str(spip_map), "acme-utils", "-o", str(lock)
        ).returncode
        == 0
    )
    text = lock.read_text()
    # Point acme-core at the public index (an attacker's edit in a pull request).
    lines = text.split("[[packages]]")
    lines = [
        chunk.replace(world.private.url, world.public.url)
        if 'name = "acme-core"' in chunk
        else chunk
        for chunk in lines
    ]
    lock.write_text("[[packages]]".join(lines))
    return lock


def test_sync_refuses_a_lock_that_breaks_the_map(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    lock = _tampered_lock(world, env, spip_map, tmp_path)
    before = tree_digest(venv.parent.parent)
    since = world.public.mark()
    result = spip(env, tmp_path, "sync", "--map", str(spip_map), "--python", str(venv), str(lock))
    assert result.returncode == 3
    assert "acme-core" in result.stderr and "private" in result.stderr
    assert tree_digest(venv.parent.parent) == before
    assert world.public.requests()[since:] == []


def test_check_flags_the_tampered_lock(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    lock = _tampered_lock(world, env, spip_map, tmp_path)
    result = spip(env, tmp_path, "check", "--map", str(spip_map), "--json", str(lock))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    kinds = {(f["kind"], f["package"]) for f in report["findings"]}
    assert ("lock-index", "acme-core") in kinds
    assert report["schema"] == 1 and report["ok"] is False and report["exit_code"] == 1


def test_sync_refuses_hash_that_differs_from_index(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    assert (
        spip(env, tmp_path, "lock", "--map", str(spip_map), "acme-core", "-o", str(lock)).returncode
        == 0
    )
    data = tomllib.loads(lock.read_text())
    digest = data["packages"][0]["wheels"][0]["hashes"]["sha256"]
    lock.write_text(lock.read_text().replace(digest, "0" * 64))
    result = spip(env, tmp_path, "sync", "--map", str(spip_map), "--python", str(venv), str(lock))
    assert result.returncode == 7
    assert "acme-core" in result.stderr
    assert installed(venv) == {}


def test_lock_from_another_tool_is_accepted(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    import urllib.request

    listing = urllib.request.urlopen(f"{world.public.url}requests-lite/").read().decode()
    digest = listing.split("#sha256=")[1].split('"')[0]
    lock = tmp_path / "pylock.toml"
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "another-tool"\n\n[[packages]]\n'
        'name = "requests-lite"\nversion = "2.0.0"\n'
        f'index = "{world.public.url}"\n'
        'wheels = [{ url = "'
        f"{world.public.url[: -len('simple/')]}packages/requests_lite-2.0.0-py3-none-any.whl"
        f'", hashes = {{ sha256 = "{digest}" }} }}]\n'
    )
    check = spip(env, tmp_path, "check", "--map", str(spip_map), str(lock))
    assert check.returncode == 0, check.stdout + check.stderr
    result = spip(env, tmp_path, "sync", "--map", str(spip_map), "--python", str(venv), str(lock))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"requests-lite": "2.0.0"}


def test_check_requirement_files_and_map(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    good = tmp_path / "requirements.txt"
    good.write_text("acme-utils==1.0.0\npublicdep\n")
    clean = spip(env, tmp_path, "check", "--map", str(spip_map), str(good))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text(f"acme-core\n--extra-index-url {world.public.url}\n")
    result = spip(env, tmp_path, "check", "--map", str(spip_map), "--json", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["findings"][0]["kind"] == "requirement-file"
    assert f"{bad}:2" in report["findings"][0]["location"]
    broken_map = tmp_path / "broken.toml"
    broken_map.write_text('default = "nope"\n')
    broken = spip(env, tmp_path, "check", "--map", str(broken_map), "--json")
    assert broken.returncode == 2
    assert json.loads(broken.stdout)["error"].startswith(str(broken_map))


def test_check_online_confirms_pins_exist(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("acme-core==1.1.0\nacme-utils==7.0.0\n")
    offline = spip(env, tmp_path, "check", "--map", str(spip_map), str(pins))
    assert offline.returncode == 0
    online = spip(env, tmp_path, "check", "--map", str(spip_map), "--online", "--json", str(pins))
    assert online.returncode == 1
    findings = json.loads(online.stdout)["findings"]
    assert [(f["kind"], f["package"]) for f in findings] == [("not-on-index", "acme-utils")]


def test_strict_map_check_reports_unmatched_and_unused(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    strict = world.write_map(
        tmp_path / "strict.toml", strict=True, extra_rules='"legacy-tool" = "private"\n'
    )
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("acme-core\nrequests-lite\n")
    result = spip(env, tmp_path, "check", "--map", str(strict), "--json", str(reqs))
    assert result.returncode == 1
    kinds = {(f["kind"], f["package"]) for f in json.loads(result.stdout)["findings"]}
    assert ("unmatched", "requests-lite") in kinds
    assert ("unused-rule", None) in kinds


def test_multi_platform_lock(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    result = spip(
        env,
        tmp_path,
        "lock",
        "--map",
        str(spip_map),
        "acme-native",
        "--python-version",
        f"{sys.version_info.major}.{sys.version_info.minor}",
        "--platform",
        "manylinux_2_17_x86_64",
        "--platform",
        "macosx_11_0_arm64",
        "-o",
        str(lock),
    )
    assert result.returncode == 0, result.stderr
    parsed = Pylock.from_dict(tomllib.loads(lock.read_text()))
    assert parsed.environments is not None and len(parsed.environments) == 2
    native = next(p for p in parsed.packages if p.name == "acme-native")
    assert native.wheels is not None
    assert sorted(w.filename for w in native.wheels) == [
        "acme_native-1.0.0-py3-none-macosx_11_0_arm64.whl",
        "acme_native-1.0.0-py3-none-manylinux_2_17_x86_64.whl",
    ]
    assert native.index == world.private.url
    import platform

    if platform.machine() == "x86_64" and sys.platform == "linux":
        synced = spip(
            env, tmp_path, "sync", "--map", str(spip_map), "--python", str(venv), str(lock)
        )
        assert synced.returncode == 0, synced.stderr
        assert installed(venv) == {"acme-native": "1.0.0", "acme-core": "1.1.0"}


def test_sync_exact_removes_what_the_lock_does_not_list(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    assert (
        spip(env, tmp_path, "lock", "--map", str(spip_map), "acme-core", "-o", str(lock)).returncode
        == 0
    )
    assert (
        spip(
            env,
            tmp_path,
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            "requests-lite",
            "acme-core",
        ).returncode
        == 0
    )
    kept = spip(env, tmp_path, "sync", "--map", str(spip_map), "--python", str(venv), str(lock))
    assert kept.returncode == 0 and installed(venv) == {
        "acme-core": "1.1.0",
        "requests-lite": "2.0.0",
    }
    exact = spip(
        env, tmp_path, "sync", "--exact", "--map", str(spip_map), "--python", str(venv), str(lock)
    )
    assert exact.returncode == 0, exact.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    assert "requests-lite" in exact.stdout
