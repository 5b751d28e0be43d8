"""spip install: every package, direct, transitive, extra or build dependency, from its
assigned index only (the acceptance of the core issue), against real servers and real pip."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import installed, run_spip, store_password, tree_digest
from tests.support.servers import start_static_server

pytestmark = pytest.mark.slow


def spip_install(
    spip_map: Path, venv: Path, env: dict[str, str], *args: str, audit_log: Path | None = None
):  # type: ignore[no-untyped-def]
    return run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *args],
        env,
        cwd=spip_map.parent,
        audit_log=audit_log,
    )


def test_direct_private_package(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = spip_install(spip_map, venv, env, "acme-utils")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []


def test_transitive_private_dependency_of_public_package(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = spip_install(spip_map, venv, env, "publicdep")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"publicdep": "1.0.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []


@pytest.mark.parametrize("spelling", ["ACME_Core", "acme.core", "Acme-Core"])
def test_every_spelling_routes_to_private(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, spelling: str
) -> None:
    result = spip_install(spip_map, venv, env, spelling)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    assert world.marker_files() == []


def test_extras_are_routed(world: World, env: dict[str, str], venv: Path, spip_map: Path) -> None:
    result = spip_install(spip_map, venv, env, "acme-extras[fast]")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-extras": "1.0.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []


def test_build_dependency_comes_from_private_index(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    since = world.public.mark()
    result = spip_install(spip_map, venv, env, "acme-built")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-built": "1.0.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []  # the public acme-backend 99 never ran
    assert "acme-backend" not in world.public.project_requests(since)


def test_pip_environment_and_config_have_no_effect(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(f"[global]\nextra-index-url = {world.public.url}\n")
    hostile = dict(
        env,
        PIP_EXTRA_INDEX_URL=world.public.url,
        PIP_INDEX_URL=world.public.url,
        PIP_FIND_LINKS=str(world.public.root),
        PIP_CONFIG_FILE=str(pip_conf),
    )
    result = spip_install(spip_map, venv, hostile, "acme-utils")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []


def test_requirement_file_with_extra_index_is_refused(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--extra-index-url {world.public.url}\nacme-core\n")
    before = tree_digest(venv.parent.parent)
    result = spip_install(spip_map, venv, env, "-r", str(requirements))
    assert result.returncode == 2
    assert f"{requirements}:1" in result.stderr
    assert "--extra-index-url" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_digest(venv.parent.parent) == before


def test_indexes_are_asked_only_about_their_own_names(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    private_since, public_since = world.private.mark(), world.public.mark()
    result = spip_install(spip_map, venv, env, "publicdep", "acme-utils", "requests-lite")
    assert result.returncode == 0, result.stderr
    asked_private = world.private.project_requests(private_since)
    asked_public = world.public.project_requests(public_since)
    assert asked_private == {"acme-core", "acme-utils"}
    assert asked_public == {"publicdep", "requests-lite"}
    assert all(e["authorization"] is None for e in world.public.requests()[public_since:])


def _secret_forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()]


def _files_containing(root: Path, needles: list[str], skip: set[Path]) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path not in skip:
            data = path.read_bytes()
            if any(n.encode() in data for n in needles):
                hits.append(path)
    return hits


def _keyring_files(tmp_path: Path) -> set[Path]:
    return {p for p in (tmp_path / "xdg-data").rglob("*") if p.is_file()}


def test_wrong_password_fails_cleanly_and_leaks_nothing(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    wrong = "Wr0ng-" + world.password[::-1]
    store_password(env, world.private.url, USERNAME, wrong)
    audit = tmp_path / "audit.jsonl"
    before = tree_digest(venv.parent.parent)
    result = spip_install(spip_map, venv, env, "acme-utils", audit_log=audit)
    assert result.returncode == 6, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "private" in lines[0] and "spip auth set private" in lines[0]
    needles = _secret_forms(wrong) + _secret_forms(world.password)
    output = result.stdout + result.stderr
    assert not any(n in output for n in needles)
    if audit.exists():
        assert not any(n in audit.read_text() for n in needles)
    assert _files_containing(tmp_path, needles, _keyring_files(tmp_path) | {audit}) == []
    assert tree_digest(venv.parent.parent) == before


def test_successful_install_leaks_the_secret_nowhere(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    result = spip_install(spip_map, venv, env, "acme-built", "publicdep", audit_log=audit)
    assert result.returncode == 0, result.stderr
    needles = _secret_forms(world.password)
    assert not any(n in result.stdout + result.stderr for n in needles)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert any("pip" in " ".join(r["argv"]) for r in records)  # the hook did see pip
    for record in records:
        assert not any(n in " ".join(record["argv"]) for n in needles)
        assert not any(n in value for value in record["env"].values() for n in needles)
        assert not any(
            k.startswith("PIP_")
            and k
            not in (
                "PIP_CONFIG_FILE",
                "PIP_DISABLE_PIP_VERSION_CHECK",
                "PIP_NO_INPUT",
                "PIP_NO_INDEX",
            )
            for k in record["env"]
        )
    assert _files_containing(tmp_path, needles, _keyring_files(tmp_path) | {audit}) == []


def test_strict_map_refuses_unmatched_name_before_any_request(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    strict_map = world.write_map(tmp_path / "strict.toml", strict=True)
    public_since, private_since = world.public.mark(), world.private.mark()
    result = spip_install(strict_map, venv, env, "acme-core", "requests-lite")
    assert result.returncode == 3
    assert "requests-lite" in result.stderr and "strict" in result.stderr
    assert world.public.requests()[public_since:] == []
    assert world.private.requests()[private_since:] == []
    assert installed(venv) == {}


def test_hash_mismatch_is_refused(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    from tests.support.servers import start_server

    # A real index whose listing is computed, then the file replaced behind its back.
    root = tmp_path / "tampered"
    from tests.support.packages import build_wheel

    wheel = build_wheel(root, "tampered-pkg", "1.0.0")
    server = start_server(root, tmp_path / "tampered-server")
    try:
        import urllib.request

        listing = urllib.request.urlopen(f"{server.url}tampered-pkg/").read().decode()
        assert "#sha256=" in listing
        build_wheel(
            tmp_path / "evil", "tampered-pkg", "1.0.0", modules={"evil.py": "print('owned')\n"}
        )
        spip_map = world.write_map(
            tmp_path / "spip.toml", extra_rules='"tampered-pkg" = "tampered"\n'
        )
        spip_map.write_text(spip_map.read_text() + f'[indexes.tampered]\nurl = "{server.url}"\n')
        # pypiserver hashes on the fly, so put a stale page in front: a static HTML listing.
        stale = tmp_path / "static" / "simple" / "tampered-pkg"
        stale.mkdir(parents=True)
        (stale / "index.html").write_text(
            listing.replace('href="/packages/', f'href="{server.url[: -len("simple/")]}packages/')
        )
        (tmp_path / "evil" / wheel.name).replace(wheel)  # the served file changes
        static = start_static_server(tmp_path / "static", tmp_path / "static-server")
        try:
            spip_map.write_text(
                spip_map.read_text().replace(server.url, f"{static.origin}/simple/")
            )
            before = tree_digest(venv.parent.parent)
            result = spip_install(spip_map, venv, env, "tampered-pkg")
            assert result.returncode == 7, result.stderr
            assert "hash mismatch" in result.stderr
            assert "Traceback" not in result.stderr
            assert tree_digest(venv.parent.parent) == before
            cache = Path(env["SPIP_CACHE_DIR"])
            assert not [p for p in cache.rglob("*.whl") if "tampered" in p.name]
            assert not [p for p in cache.rglob(".partial-*")]
        finally:
            static.stop()
    finally:
        server.stop()


def test_without_default_pip_configured_index_is_used_and_extras_ignored(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(
        f"[global]\nindex-url = {world.public.url}\nextra-index-url = {world.private.url}\n"
    )
    spip_map = tmp_path / "spip.toml"
    spip_map.write_text(
        f'[indexes.private]\nurl = "{world.private.url}"\nusername = "{USERNAME}"\n'
        '[packages]\n"acme-*" = "private"\n'
    )
    result = spip_install(spip_map, venv, dict(env, PIP_CONFIG_FILE=str(pip_conf)), "publicdep")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"publicdep": "1.0.0", "acme-core": "1.1.0"}
    notes = [line for line in result.stderr.splitlines() if "note:" in line]
    assert len(notes) == 1 and "extra-index-url" in notes[0] and "ignores" in notes[0]
    assert world.marker_files() == []
