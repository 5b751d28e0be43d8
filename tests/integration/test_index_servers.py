"""The test infrastructure's index servers work with the real pip.

Each kind of index that spip meets in companies is started here and used by pip itself (this
interpreter's ``python -m pip``, no configuration file, a fresh target environment): devpi
behind basic authentication, a static PEP 503 tree, a forwarding pypiserver, an index reached
through a TLS-intercepting proxy, and an index that demands client certificates.  Each test
also checks what the servers logged, so a helper that silently does nothing fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World
from tests.support.certificates import (
    combine_pem,
    make_ca,
    make_client_cert,
    make_server_cert,
)
from tests.support.devpi import start_devpi
from tests.support.environment import clean_env, installed, make_venv
from tests.support.packages import build_wheel
from tests.support.servers import start_mitm_proxy, start_server, start_static_server
from tests.support.static_index import write_static_index

pytestmark = pytest.mark.slow


# Requests lets these override pip's --cert / PIP_CERT (they win over a session's own
# bundle), and machines set them: the certificate a test names must be the one pip uses.
CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
# For the runs that must fail on TLS: pip would retry five times with back-off.
NO_RETRY = ("--retries", "0")


def pip_install(venv: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real pip, installing into ``venv``; never prompts, no keyring, no cache."""
    env = {k: v for k, v in env.items() if k not in CA_OVERRIDES}
    argv = [sys.executable, "-m", "pip", "--python", str(venv), "install"]
    argv += ["--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    argv += ["--keyring-provider", "disabled", *args]
    return subprocess.run(
        argv,
        env=dict(env, PIP_CONFIG_FILE=os.devnull),
        capture_output=True,
        text=True,
        timeout=300,
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(url: str, *, follow: bool = True, **headers: str) -> tuple[int, Message, bytes]:
    """(status, headers (case-insensitive), body) of a GET, proxies ignored; errors are
    answers too."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if not follow:
        handlers.append(_NoRedirect())
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def logged(entries: Callable[[], list[dict[str, Any]]], seconds: float = 5) -> list[dict[str, Any]]:
    """A log's entries once it has some: a server logs a failed handshake just after the
    client saw it fail, so the client may exit first."""
    deadline = time.monotonic() + seconds
    while not (found := entries()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def company_packages(directory: Path) -> dict[str, Path]:
    """acme-utils 1.0.0 needs acme-core; acme-core 1.0.0 and 1.1.0."""
    return {
        "core-1.0.0": build_wheel(directory, "acme-core", "1.0.0", requires_python=">=3.8"),
        "core-1.1.0": build_wheel(directory, "acme-core", "1.1.0", requires_python=">=3.8"),
        "utils": build_wheel(directory, "acme-utils", "1.0.0", requires=["acme-core>=1.0"]),
    }


def test_devpi_behind_basic_auth(tmp_path: Path) -> None:
    wheels = company_packages(tmp_path / "packages")
    password = secrets.token_urlsafe(12)
    devpi = start_devpi(
        tmp_path / "packages", tmp_path / "devpi", username="acme-ci", password=password
    )
    try:
        assert devpi.url == f"{devpi.origin}/acme-ci/private/+simple/"
        assert devpi.timings["total"] < 30, devpi.timings
        env = clean_env(tmp_path)

        # Without credentials the proxy answers 401 and pip installs nothing.
        refused_venv = make_venv(tmp_path / "refused")
        refused = pip_install(refused_venv, env, "--index-url", devpi.url, "acme-utils")
        assert refused.returncode != 0
        assert installed(refused_venv) == {}
        entries = devpi.requests()
        assert entries, "pip never reached the proxy"
        assert {e["status"] for e in entries} == {401}
        assert {e["authorization"] for e in entries} == {None}
        mark = len(entries)

        # With them in the URL, pip resolves acme-utils and acme-core from devpi.
        venv = make_venv(tmp_path / "target")
        result = pip_install(venv, env, "--index-url", devpi.url_with_credentials, "acme-utils")
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        token = base64.b64encode(f"acme-ci:{password}".encode()).decode()
        later = devpi.requests()[mark:]
        paths = {str(e["path"]) for e in later if e["status"] == 200}
        assert "/acme-ci/private/+simple/acme-utils/" in paths
        assert any(p.endswith("/" + wheels["utils"].name) for p in paths)
        assert any(p.endswith("/" + wheels["core-1.1.0"].name) for p in paths)
        assert all(e["authorization"] == f"Basic {token}" for e in later if e["status"] == 200)
        # pip asks for PEP 691 JSON first (what devpi then answers is checked below).
        pages = [e for e in later if str(e["path"]).endswith("/+simple/acme-utils/")]
        assert "application/vnd.pypi.simple.v1+json" in str(pages[0]["accept"])

        auth = {"Authorization": f"Basic {token}"}
        # PEP 503 HTML through the proxy: relative links with the files' sha256.
        status, headers, body = fetch(devpi.url + "acme-core/", **auth)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        page = body.decode()
        for key in ("core-1.0.0", "core-1.1.0"):
            assert f"{wheels[key].name}#sha256={sha256(wheels[key])}" in page
        assert 'data-requires-python="&gt;=3.8"' in page
        assert f":{devpi.devpi_port}" not in page
        # PEP 691 JSON too.
        status, headers, body = fetch(
            devpi.url + "acme-core/", Accept="application/vnd.pypi.simple.v1+json", **auth
        )
        assert status == 200
        assert headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
        files = {f["filename"]: f for f in json.loads(body)["files"]}
        assert files[wheels["core-1.0.0"].name]["hashes"] == {
            "sha256": sha256(wheels["core-1.0.0"])
        }
        # devpi's absolute URLs (its redirect, its links on demand) are rewritten to the proxy.
        status, headers, _ = fetch(devpi.url + "acme-core", follow=False, **auth)
        assert status == 302 and headers["Location"] == devpi.url + "acme-core/"
        status, _, body = fetch(devpi.url + "acme-core/", **auth, **{"X-Devpi-Absolute-Urls": "1"})
        links = re.findall(r'href="([^"#]+)', body.decode())
        assert links and all(link.startswith(devpi.origin + "/") for link in links), links
        status, _, content = fetch(links[0], **auth)
        assert status == 200 and hashlib.sha256(content).hexdigest() in body.decode()
    finally:
        devpi.stop()


def test_static_pep503_tree(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    build_wheel(packages, "acme-core", "1.0.0", requires_python=">=3.8")
    build_wheel(packages, "acme-core", "2.0.0", requires_python="<3")  # never for this Python
    utils = build_wheel(packages, "acme-utils", "1.0.0", requires=["acme-core"])
    simple = write_static_index(packages, tmp_path / "static", json=True)
    assert sorted(p.name for p in simple.iterdir()) == [
        "acme-core",
        "acme-utils",
        "index.html",
        "index.json",
    ]
    server = start_static_server(tmp_path / "static", tmp_path / "static-server")
    try:
        assert server.url == f"{server.origin}/simple/"
        # http.server answers a project's URL with its directory's index.html.
        status, headers, body = fetch(server.url + "acme-utils/")
        assert status == 200 and headers["Content-Type"] == "text/html"
        assert body == (simple / "acme-utils" / "index.html").read_bytes()
        assert f'href="../../files/{utils.name}#sha256={sha256(utils)}"' in body.decode()
        status, headers, _ = fetch(server.url + "acme-utils", follow=False)
        assert status == 301 and headers["Location"].endswith("/simple/acme-utils/")
        page = (simple / "acme-core" / "index.html").read_text()
        assert 'data-requires-python="&lt;3"' in page
        document = json.loads((simple / "acme-core" / "index.json").read_text())
        assert [f["requires-python"] for f in document["files"]] == [">=3.8", "<3"]

        env = clean_env(tmp_path)
        venv = make_venv(tmp_path / "target")
        result = pip_install(venv, env, "--index-url", server.url, "acme-utils")
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.0.0"}
        served = {str(e["path"]) for e in server.requests() if e["status"] == 200}
        assert {"/simple/acme-utils/", "/simple/acme-core/", f"/files/{utils.name}"} <= served

        # The fragments are checked: a file changed after indexing is refused...
        build_wheel(tmp_path / "evil", "acme-utils", "1.0.0", modules={"evil.py": "x = 1\n"})
        (tmp_path / "evil" / utils.name).replace(tmp_path / "static" / "files" / utils.name)
        tampered = pip_install(
            make_venv(tmp_path / "t1"), env, "--index-url", server.url, "acme-utils"
        )
        assert tampered.returncode != 0
        assert "hash" in tampered.stderr.lower()
        # ... and goes through once the index carries no hashes.
        write_static_index(packages, tmp_path / "bare", hashes=False)
        (tmp_path / "static" / "files" / utils.name).replace(
            tmp_path / "bare" / "files" / utils.name
        )
        assert (
            "#sha256="
            not in (tmp_path / "bare" / "simple" / "acme-utils" / "index.html").read_text()
        )
        bare = start_static_server(tmp_path / "bare", tmp_path / "bare-server")
        try:
            target = make_venv(tmp_path / "t2")
            unhashed = pip_install(target, env, "--index-url", bare.url, "acme-utils")
            assert unhashed.returncode == 0, unhashed.stderr
            assert installed(target)["acme-utils"] == "1.0.0"
        finally:
            bare.stop()
    finally:
        server.stop()


def test_forwarding_index_redirects_unknown_projects(world: World, tmp_path: Path) -> None:
    build_wheel(tmp_path / "packages", "acme-core", "1.0.0")
    forwarding = start_server(
        tmp_path / "packages", tmp_path / "forwarding", fallback_url=world.public.url
    )
    try:
        status, headers, _ = fetch(forwarding.url + "publicdep/", follow=False)
        assert status == 303
        assert headers["Location"] == world.public.url + "publicdep/"
        assert fetch(forwarding.url + "acme-core/", follow=False)[0] == 200

        public_mark = world.public.mark()
        venv = make_venv(tmp_path / "target")
        result = pip_install(venv, clean_env(tmp_path), "--index-url", forwarding.url, "publicdep")
        assert result.returncode == 0, result.stderr
        # publicdep came from the public index, its dependency acme-core from the private one.
        assert installed(venv) == {"publicdep": "1.0.0", "acme-core": "1.0.0"}
        assert world.public.project_requests(public_mark) == {"publicdep"}
        assert {"publicdep", "acme-core"} <= forwarding.project_requests()
    finally:
        forwarding.stop()


def test_tls_intercepting_proxy(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    upstream_ca, upstream_ca_key = make_ca(pki, "Index Operator CA", stem="upstream-ca")
    corporate_ca, corporate_ca_key = make_ca(pki, "Corporate Inspection CA", stem="corporate-ca")
    tls = make_server_cert(pki, upstream_ca, upstream_ca_key)
    company_packages(tmp_path / "packages")
    upstream = start_server(tmp_path / "packages", tmp_path / "upstream", tls=tls)
    mitm = start_mitm_proxy(
        tmp_path / "mitm", corporate_ca, corporate_ca_key, upstream_ca=upstream_ca
    )
    try:
        index = f"https://localhost:{upstream.port}/simple/"
        env = clean_env(tmp_path)
        for name in ("NO_PROXY", "no_proxy"):  # clean_env keeps localhost off proxies
            env.pop(name)
        env.update(HTTPS_PROXY=mitm.url, https_proxy=mitm.url)

        venv = make_venv(tmp_path / "target")
        result = pip_install(
            venv, dict(env, PIP_CERT=str(corporate_ca)), "--index-url", index, "acme-utils"
        )
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        target = f"localhost:{upstream.port}"
        assert target in mitm.connects()
        relayed = {str(e["url"]) for e in mitm.requests() if e.get("status") == 200 and "url" in e}
        assert f"https://{target}/simple/acme-utils/" in relayed
        assert any(url.startswith(f"https://{target}/packages/acme_core-1.1.0") for url in relayed)
        assert upstream.project_requests() == {"acme-utils", "acme-core"}

        # Trusting only the index's real CA fails: what pip sees is the proxy's certificate.
        upstream_mark, proxy_mark = upstream.mark(), len(mitm.requests())
        other = make_venv(tmp_path / "other")
        refused = pip_install(
            other, env, *NO_RETRY, "--cert", str(upstream_ca), "--index-url", index, "acme-utils"
        )
        assert refused.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stdout + refused.stderr
        assert installed(other) == {}
        failed = logged(
            lambda: [e for e in mitm.requests()[proxy_mark:] if e.get("method") == "CONNECT"]
        )
        assert failed and all("tls_error" in e for e in failed), failed
        assert upstream.requests()[upstream_mark:] == []
    finally:
        mitm.stop()
        upstream.stop()


def test_mutual_tls_index(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    server_ca, server_ca_key = make_ca(pki, "Index CA", stem="index-ca")
    client_ca, client_ca_key = make_ca(pki, "Client CA", stem="client-ca")
    rogue_ca, rogue_ca_key = make_ca(pki, "Rogue CA", stem="rogue-ca")
    tls = make_server_cert(pki, server_ca, server_ca_key)
    client = combine_pem(
        *make_client_cert(pki, client_ca, client_ca_key), pki / "client-bundle.pem"
    )
    rogue = combine_pem(
        *make_client_cert(pki, rogue_ca, rogue_ca_key, stem="rogue"), pki / "rogue-bundle.pem"
    )
    company_packages(tmp_path / "packages")
    server = start_server(tmp_path / "packages", tmp_path / "mtls", tls=tls, client_ca=client_ca)
    try:
        env = clean_env(tmp_path)
        base = ["--cert", str(server_ca), "--index-url", server.url]

        venv = make_venv(tmp_path / "target")
        result = pip_install(venv, env, *base, "--client-cert", str(client), "acme-utils")
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
        assert server.project_requests() == {"acme-utils", "acme-core"}
        assert not [e for e in server.requests() if "tls_error" in e]

        for name, extra in (("none", []), ("rogue", ["--client-cert", str(rogue)])):
            mark = server.mark()
            other = make_venv(tmp_path / name)
            refused = pip_install(other, env, *NO_RETRY, *base, *extra, "acme-utils")
            assert refused.returncode != 0, name
            assert installed(other) == {}
            later = logged(lambda mark=mark: server.requests()[mark:])
            assert later and all(e.get("tls_error") for e in later), later
            expected = (
                "PEER_DID_NOT_RETURN_A_CERTIFICATE"
                if name == "none"
                else "CERTIFICATE_VERIFY_FAILED"
            )
            assert expected in str(later[0]["tls_error"])
    finally:
        server.stop()
