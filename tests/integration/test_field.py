"""Works wherever pip works: a TLS-intercepting proxy whose CA is in the system store, a
client-certificate index, devpi behind basic auth, pypiserver, a static PEP 503 tree (with and
without hashes), and a private index that forwards unknown names."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.certificates import combine_pem, make_ca, make_client_cert, make_server_cert
from tests.support.devpi import start_devpi
from tests.support.environment import clean_env, installed, make_venv, run_spip, store_password
from tests.support.packages import build_wheel
from tests.support.servers import start_mitm_proxy, start_server, start_static_server
from tests.support.static_index import write_static_index

pytestmark = pytest.mark.slow

_CA_VARIABLES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def tls_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment with none of this machine's CA settings (each test sets its own)."""
    env = clean_env(tmp_path)
    for name in _CA_VARIABLES:
        env.pop(name, None)
    env["SPIP_RETRIES"] = "0"
    return env


def spip_install(env: dict[str, str], venv: Path, *args: str, cwd: Path):  # type: ignore[no-untyped-def]
    return run_spip(["install", "--python", str(venv), *args], env, cwd=cwd)


def test_tls_intercepting_proxy_with_its_ca_in_the_system_store(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    upstream_ca, upstream_key = make_ca(pki, "Index Operator CA", stem="upstream-ca")
    corporate_ca, corporate_key = make_ca(pki, "Corporate Inspection CA", stem="corporate-ca")
    packages = tmp_path / "packages"
    build_wheel(packages, "acme-core", "1.1.0")
    build_wheel(packages, "acme-utils", "1.0.0", requires=["acme-core"])
    upstream = start_server(
        packages, tmp_path / "upstream", tls=make_server_cert(pki, upstream_ca, upstream_key)
    )
    mitm = start_mitm_proxy(tmp_path / "mitm", corporate_ca, corporate_key, upstream_ca=upstream_ca)
    try:
        env = tls_env(tmp_path)
        for name in ("NO_PROXY", "no_proxy"):
            env.pop(name)
        # One configured index (pip's), no map: allowed; its only route is the proxy.
        env.update(
            HTTPS_PROXY=mitm.url,
            https_proxy=mitm.url,
            PIP_INDEX_URL=f"https://localhost:{upstream.port}/simple/",
        )
        refused_venv = make_venv(tmp_path / "refused")
        refused = spip_install(env, refused_venv, "acme-utils", cwd=tmp_path)
        assert refused.returncode == 5
        assert "is not trusted" in refused.stderr and "PIP_CERT" in refused.stderr
        assert "Traceback" not in refused.stderr and installed(refused_venv) == {}
        # The system store (simulated by SSL_CERT_FILE) holds the corporate CA: it works.
        venv = make_venv(tmp_path / "target")
        trusted = dict(env, SSL_CERT_FILE=str(corporate_ca))
        result = spip_install(trusted, venv, "acme-utils", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        assert f"localhost:{upstream.port}" in mitm.connects()
        assert upstream.project_requests() >= {"acme-utils", "acme-core"}
        # pip's own setting for the same thing (PIP_CERT) works too.
        other = make_venv(tmp_path / "pip-cert")
        with_pip_cert = spip_install(
            dict(env, PIP_CERT=str(corporate_ca)), other, "acme-core", cwd=tmp_path
        )
        assert with_pip_cert.returncode == 0, with_pip_cert.stderr
        assert installed(other) == {"acme-core": "1.1.0"}
    finally:
        mitm.stop()
        upstream.stop()


def test_client_certificate_index(world: World, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    server_ca, server_key = make_ca(pki, "Index CA", stem="index-ca")
    client_ca, client_key = make_ca(pki, "Client CA", stem="client-ca")
    client = combine_pem(*make_client_cert(pki, client_ca, client_key), pki / "client.pem")
    assert client.exists()
    packages = tmp_path / "packages"
    build_wheel(packages, "acme-secure", "1.0.0", requires=["requests-lite"])
    server = start_server(
        packages,
        tmp_path / "mtls",
        tls=make_server_cert(pki, server_ca, server_key),
        client_ca=client_ca,
    )
    try:
        base = (
            f'default = "public"\n[indexes.public]\nurl = "{world.public.url}"\n'
            f'[indexes.corp]\nurl = "{server.url}"\nca-bundle = "pki/index-ca.pem"\n'
            '[packages]\n"acme-*" = "corp"\n'
        )
        without = tmp_path / "without.toml"
        without.write_text(base)
        env = tls_env(tmp_path)
        refused_venv = make_venv(tmp_path / "refused")
        refused = spip_install(
            env, refused_venv, "--map", str(without), "acme-secure", cwd=tmp_path
        )
        assert refused.returncode == 5
        assert "client-cert" in refused.stderr and installed(refused_venv) == {}
        with_cert = tmp_path / "spip.toml"
        with_cert.write_text(
            base.replace(
                '"pki/index-ca.pem"\n', '"pki/index-ca.pem"\nclient-cert = "pki/client.pem"\n'
            )
        )
        venv = make_venv(tmp_path / "target")
        result = spip_install(env, venv, "--map", str(with_cert), "acme-secure", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-secure": "1.0.0", "requests-lite": "2.0.0"}
    finally:
        server.stop()


def private_with_public_dependency(directory: Path) -> None:
    build_wheel(directory, "acme-svc", "1.0.0", requires=["requests-lite>=2"])


def routed_map(path: Path, url: str, world: World, username: str | None) -> Path:
    user = f'username = "{username}"\n' if username else ""
    path.write_text(
        f'default = "public"\n[indexes.public]\nurl = "{world.public.url}"\n'
        f'[indexes.corp]\nurl = "{url}"\n{user}[packages]\n"acme-*" = "corp"\n'
    )
    return path


@pytest.mark.parametrize("kind", ["pypiserver", "devpi", "static"])
def test_each_index_implementation_installs_a_private_package_with_a_public_dependency(
    world: World, tmp_path: Path, kind: str
) -> None:
    packages = tmp_path / "packages"
    private_with_public_dependency(packages)
    env = clean_env(tmp_path)
    password = secrets.token_urlsafe(12)
    if kind == "devpi":
        server = start_devpi(packages, tmp_path / "devpi", username=USERNAME, password=password)
        url, user = server.url, USERNAME
    elif kind == "pypiserver":
        server = start_server(packages, tmp_path / "pypi", username=USERNAME, password=password)
        url, user = server.url, USERNAME
    else:
        write_static_index(packages, tmp_path / "static")
        server = start_static_server(tmp_path / "static", tmp_path / "static-server")
        url, user = server.url, None
    try:
        if user:
            store_password(env, url, user, password)
        spip_map = routed_map(tmp_path / "spip.toml", url, world, user)
        public_since = world.public.mark()
        venv = make_venv(tmp_path / "target")
        result = spip_install(env, venv, "--map", str(spip_map), "acme-svc", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-svc": "1.0.0", "requests-lite": "2.0.0"}
        assert world.public.project_requests(public_since) == {"requests-lite"}
        served = json.dumps(server.requests())
        assert "acme-svc" in served and "requests-lite" not in served
    finally:
        server.stop()


def test_static_tree_without_hashes_is_refused_as_integrity(world: World, tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    private_with_public_dependency(packages)
    write_static_index(packages, tmp_path / "static", hashes=False)
    server = start_static_server(tmp_path / "static", tmp_path / "static-server")
    try:
        spip_map = routed_map(tmp_path / "spip.toml", server.url, world, None)
        venv = make_venv(tmp_path / "target")
        result = spip_install(
            clean_env(tmp_path), venv, "--map", str(spip_map), "acme-svc", cwd=tmp_path
        )
        assert result.returncode == 7
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "publishes no hash" in lines[0] and "hint" in lines[0]
        assert "internal error" not in result.stderr and installed(venv) == {}
    finally:
        server.stop()


def test_forwarding_private_index_is_named_and_never_trusted(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    packages = tmp_path / "packages"
    build_wheel(packages, "acme-core", "1.1.0")
    forwarding = start_server(packages, tmp_path / "forwarding", fallback_url=world.public.url)
    try:
        spip_map = routed_map(tmp_path / "spip.toml", forwarding.url, world, None)
        public_since = world.public.mark()
        venv = make_venv(tmp_path / "target")
        # acme-utils is routed to the forwarding index, which does not have it: it redirects
        # the request to the public index, where the impostor waits.
        result = spip_install(env, venv, "--map", str(spip_map), "acme-utils", cwd=tmp_path)
        assert result.returncode == 7
        assert "forwards names it does not serve" in result.stderr
        assert "acme-utils -> corp" in result.stderr and "[packages]" in result.stderr
        assert f"127.0.0.1:{world.public.port}" not in result.stderr.split("hint:", 1)[1]
        assert "acme-utils" not in world.public.project_requests(public_since)
        assert installed(venv) == {} and world.marker_files() == []
        audit = run_spip(
            ["audit", "--map", str(spip_map), "--python", str(venv), "--json"], env, cwd=tmp_path
        )
        report = json.loads(audit.stdout)
        assert audit.returncode == 1
        assert [f["index"] for f in report["forwarding"]] == ["corp"]
    finally:
        forwarding.stop()
