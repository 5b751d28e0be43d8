"""Faults between spip and an index, through a fault proxy in front of the real private index.

Every case checks: the exit code of its class, one error line naming the index and the project
(no traceback), retries only where retrying is right, the target environment byte-identical,
and no partial or unverified file left in the cache.  The table is docs/faults.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import installed, run_spip, store_password, tree_digest
from tests.support.packages import write_wheel
from tests.support.servers import FaultProxy, start_fault_proxy, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(fault_proxy: FaultProxy) -> FaultProxy:
    return fault_proxy


@pytest.fixture
def proxied_env(env: dict[str, str], proxy: FaultProxy, world: World) -> dict[str, str]:
    store_password(env, proxy.url, USERNAME, world.password)
    return dict(env, SPIP_TIMEOUT="2", SPIP_RETRIES="2")


def write_map(path: Path, world: World, private_url: str) -> Path:
    return world.write_map(path, private_url=private_url)


def attempt(
    tmp_path: Path,
    world: World,
    proxy: FaultProxy,
    env: dict[str, str],
    venv: Path,
    rules: list[dict[str, object]],
    *names: str,
):  # type: ignore[no-untyped-def]
    proxy.set_rules(rules)
    spip_map = write_map(tmp_path / "spip.toml", world, proxy.url)
    before = tree_digest(venv.parent.parent)
    result = run_spip(["install", "--map", str(spip_map), "--python", str(venv), *names], env)
    cache = Path(env["SPIP_CACHE_DIR"])
    assert not list(cache.rglob(".partial-*")), "partial download left in the cache"
    if result.returncode != 0:
        assert tree_digest(venv.parent.parent) == before
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("spip: error:"), result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert world.password not in result.stdout + result.stderr
    return result


def hits(proxy: FaultProxy, fragment: str) -> int:
    return sum(1 for entry in proxy.requests() if fragment in (entry["path"] or ""))


def test_server_errors_heal_after_retries(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "status", "code": 503, "times": 2}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 0, result.stderr
    assert hits(proxy, "/simple/acme-core/") == 3
    assert installed(venv) == {"acme-core": "1.1.0"}


@pytest.mark.parametrize("code", [500, 502, 503])
def test_persistent_server_error(
    world: World,
    proxied_env: dict[str, str],
    venv: Path,
    proxy: FaultProxy,
    tmp_path: Path,
    code: int,
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "status", "code": code}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 5
    assert (
        "private" in result.stderr and "acme-core" in result.stderr and str(code) in result.stderr
    )
    assert hits(proxy, "/simple/acme-core/") == 3  # one try and two retries (SPIP_RETRIES=2)


@pytest.mark.parametrize(("code", "exit_code"), [(401, 6), (403, 6), (404, 4)])
def test_no_retry_for_client_errors(
    world: World,
    proxied_env: dict[str, str],
    venv: Path,
    proxy: FaultProxy,
    tmp_path: Path,
    code: int,
    exit_code: int,
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "status", "code": code}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == exit_code
    assert "private" in result.stderr and "acme-core" in result.stderr
    assert hits(proxy, "/simple/acme-core/") == 1


def test_timeout_is_retried_then_reported(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "hang", "seconds": 6}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 5
    assert "unreachable" in result.stderr and "acme-core" in result.stderr
    assert hits(proxy, "/simple/acme-core/") == 3


def test_timeout_that_heals(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "hang", "seconds": 6, "times": 1}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_reset_mid_download_is_retried(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": r"^/packages/acme_core-1\.1\.0", "fault": "reset", "times": 1}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 0, result.stderr
    assert hits(proxy, "/packages/acme_core-1.1.0") == 2
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_reset_every_time_fails_cleanly(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": r"^/packages/acme_core-1\.1\.0", "fault": "reset"}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 5
    assert "acme_core-1.1.0" in result.stderr and "private" in result.stderr
    assert hits(proxy, "/packages/acme_core-1.1.0") == 3


@pytest.mark.parametrize("fault", ["truncate", "corrupt"])
def test_bytes_that_do_not_match_the_listing_are_refused_once(
    world: World,
    proxied_env: dict[str, str],
    venv: Path,
    proxy: FaultProxy,
    tmp_path: Path,
    fault: str,
) -> None:
    rules = [{"path": r"^/packages/acme_core-1\.1\.0", "fault": fault}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 7
    assert "hash mismatch" in result.stderr and "acme_core-1.1.0" in result.stderr
    assert hits(proxy, "/packages/acme_core-1.1.0") == 1
    cache = Path(proxied_env["SPIP_CACHE_DIR"])
    assert not list(cache.rglob("acme_core-1.1.0*.whl"))


def test_redirect_to_another_origin_carries_no_credentials(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    # A file host on another origin that has its own access to the files.
    files = start_fault_proxy(
        world.private.url[: -len("/simple/")],
        tmp_path / "files",
        add_auth=f"{USERNAME}:{world.password}",
    )
    try:
        rules = [{"path": "^/packages/", "fault": "redirect", "location": files.origin}]
        result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-utils")
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        downloads = files.requests()
        assert downloads and all(entry["authorization"] is None for entry in downloads)
        pages = [e for e in proxy.requests() if e["path"].startswith("/simple/")]
        assert pages and all(e["authorization"] for e in pages)
    finally:
        files.stop()


@pytest.mark.parametrize(
    ("content_type", "body", "exit_code"),
    [
        ("text/html", "<html><a href='javascript:alert(1)'>acme_core-9.tar.gz</a>", 4),
        ("application/vnd.pypi.simple.v1+json", "{not json", 7),
        (
            "application/vnd.pypi.simple.v1+json",
            json.dumps({"meta": {"api-version": "1.0"}, "name": "evil", "files": []}),
            7,
        ),
        ("application/octet-stream", "garbage", 7),
    ],
)
def test_malformed_pages(
    world: World,
    proxied_env: dict[str, str],
    venv: Path,
    proxy: FaultProxy,
    tmp_path: Path,
    content_type: str,
    body: str,
    exit_code: int,
) -> None:
    rules = [
        {"path": "^/simple/acme-core/", "fault": "body", "content_type": content_type, "body": body}
    ]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == exit_code
    assert "acme-core" in result.stderr and "private" in result.stderr


def test_enormous_page_is_refused(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    rules = [{"path": "^/simple/acme-core/", "fault": "huge", "megabytes": 65}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 7
    assert "64 MiB" in result.stderr


def test_hostile_links_are_refused(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    h = "a" * 64
    page = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "acme-core",
            "files": [
                {
                    "filename": "acme_core-5.0.0.tar.gz",
                    "url": "file:///etc/acme_core-5.0.0.tar.gz",
                    "hashes": {"sha256": h},
                },
                {
                    "filename": "acme_core-5.0.0-py3-none-any.whl",
                    "url": "data:application/zip,acme_core-5.0.0-py3-none-any.whl",
                    "hashes": {"sha256": h},
                },
                {
                    "filename": "../acme_core-5.0.0.zip",
                    "url": "/x/../acme_core-5.0.0.zip",
                    "hashes": {"sha256": h},
                },
                {
                    "filename": "evil_pkg-5.0.0.tar.gz",
                    "url": "/files/evil_pkg-5.0.0.tar.gz",
                    "hashes": {"sha256": h},
                },
            ],
        }
    )
    rules = [
        {
            "path": "^/simple/acme-core/",
            "fault": "body",
            "content_type": "application/vnd.pypi.simple.v1+json",
            "body": page,
        }
    ]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 4
    assert "has no project" in result.stderr or "has " in result.stderr
    assert installed(venv) == {}


def test_wheel_whose_metadata_names_another_project(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    root = tmp_path / "hostile"
    wheel = write_wheel(
        root,
        "acme-core",
        "7.0.0",
        {"evil/__init__.py": ""},
        "Metadata-Version: 2.1\nName: evil\nVersion: 7.0.0\n",
    )
    assert wheel.name == "acme_core-7.0.0-py3-none-any.whl"
    server = start_server(root, tmp_path / "hostile-server")
    try:
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(f'default = "h"\n[indexes.h]\nurl = "{server.url}"\n')
        before = tree_digest(venv.parent.parent)
        result = run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env
        )
        assert result.returncode == 7
        assert "evil" in result.stderr and "acme_core-7.0.0" in result.stderr
        assert tree_digest(venv.parent.parent) == before
    finally:
        server.stop()


def test_page_redirected_to_another_index_is_refused(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    # A "forwarding" private index: it sends a name it lacks to the public index.
    public_origin = world.public.url[: -len("/simple/")]
    rules = [{"path": "^/simple/acme-core/", "fault": "redirect", "location": public_origin}]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 7
    assert "another origin" in result.stderr and "acme-core" in result.stderr
    assert world.marker_files() == []
    assert installed(venv) == {}


def _json_page_with_metadata(
    world: World, proxy: FaultProxy, metadata: bytes, advertised: bytes
) -> str:
    import base64
    import hashlib
    import urllib.request

    request = urllib.request.Request(f"{world.private.url}acme-core/")
    token = base64.b64encode(f"{USERNAME}:{world.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    html = urllib.request.urlopen(request).read().decode()
    digest = html.split("acme_core-1.1.0-py3-none-any.whl#sha256=")[1].split('"')[0]
    return json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "acme-core",
            "files": [
                {
                    "filename": "acme_core-1.1.0-py3-none-any.whl",
                    "url": f"{proxy.origin}/packages/acme_core-1.1.0-py3-none-any.whl",
                    "hashes": {"sha256": digest},
                    "core-metadata": {"sha256": hashlib.sha256(advertised).hexdigest()},
                    "requires-python": ">=3.8",
                    "size": 1000,
                }
            ],
        }
    )


def test_json_page_and_pep658_metadata_are_used(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    metadata = b"Metadata-Version: 2.1\nName: acme-core\nVersion: 1.1.0\n"
    page = _json_page_with_metadata(world, proxy, metadata, metadata)
    rules = [
        {
            "path": "^/simple/acme-core/",
            "fault": "body",
            "content_type": "application/vnd.pypi.simple.v1+json",
            "body": page,
        },
        {
            "path": r"\.whl\.metadata$",
            "fault": "body",
            "content_type": "text/plain",
            "body": metadata.decode(),
        },
    ]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "--dry-run", "acme-core")
    assert result.returncode == 0, result.stderr
    assert "acme-core 1.1.0  [private]" in result.stdout
    paths = [e["path"] for e in proxy.requests()]
    assert any(p.endswith(".whl.metadata") for p in paths)
    assert not any(p.endswith(".whl") for p in paths)  # resolution never needed the wheel
    page_request = next(e for e in proxy.requests() if e["path"] == "/simple/acme-core/")
    assert (page_request["accept"] or "").startswith("application/vnd.pypi.simple.v1+json")
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_pep658_metadata_with_wrong_hash_is_refused(
    world: World, proxied_env: dict[str, str], venv: Path, proxy: FaultProxy, tmp_path: Path
) -> None:
    metadata = b"Metadata-Version: 2.1\nName: acme-core\nVersion: 1.1.0\nRequires-Dist: evil\n"
    page = _json_page_with_metadata(world, proxy, metadata, b"something else")
    rules = [
        {
            "path": "^/simple/acme-core/",
            "fault": "body",
            "content_type": "application/vnd.pypi.simple.v1+json",
            "body": page,
        },
        {
            "path": r"\.whl\.metadata$",
            "fault": "body",
            "content_type": "text/plain",
            "body": metadata.decode(),
        },
    ]
    result = attempt(tmp_path, world, proxy, proxied_env, venv, rules, "acme-core")
    assert result.returncode == 7
    assert "metadata" in result.stderr and "acme_core-1.1.0" in result.stderr


def test_environment_proxy_is_used_and_no_proxy_honoured(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path, spip_map: Path
) -> None:
    # The fault proxy doubles as a plain forward proxy for absolute-URL requests.
    forward = start_fault_proxy("http://127.0.0.1:9", tmp_path / "forward")
    try:
        proxied = dict(
            env, HTTP_PROXY=forward.origin, http_proxy=forward.origin, NO_PROXY="", no_proxy=""
        )
        result = run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-utils"], proxied
        )
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        seen = [e["path"] for e in forward.requests()]
        assert f"{world.private.url}acme-utils/" in seen
        assert any(p.endswith(".whl") for p in seen)
        before = len(seen)
        other = tmp_path / "other"
        from tests.support.environment import make_venv

        target = make_venv(other)
        bypass = dict(proxied, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        result = run_spip(
            ["install", "--map", str(spip_map), "--python", str(target), "acme-core"], bypass
        )
        assert result.returncode == 0, result.stderr
        assert len(forward.requests()) == before
    finally:
        forward.stop()
