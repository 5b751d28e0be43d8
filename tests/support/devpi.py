"""A real devpi-server for tests, private and offline, behind a basic-auth proxy.

``start_devpi`` initializes a server directory without the default mirror index
(``devpi-init --no-root-pypi``), starts devpi-server on 127.0.0.1 in offline mode (no index of
it mirrors anything, so it never reaches beyond this machine), creates a user and a private
index with no base (nothing inherited from a mirror), uploads the given wheels and sdists
through devpi's upload API (the form ``twine`` posts), then starts ``auth_proxy.py`` in front
of it: the index is only reachable with the user's basic credentials, as a company's would be.

devpi-server does not bind port 0, so a free port is picked by binding a socket to port 0 and
closing it (retried if another process takes it meanwhile).  Its secret-derivation cost
(argon2, half a gigabyte and about ten seconds by default) is lowered with its own hidden
``--argon2-*`` options, which devpi's test suite uses for the same reason: the server starts
in well under a second.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.packages import distribution_metadata
from tests.support.servers import REPO, child_env, stop_process, wait_for_port

# A cheap key derivation for a throwaway server (devpi's defaults: 512 MiB, 16 passes).
_ARGON2 = ["--argon2-memory-cost", "8", "--argon2-parallelism", "1", "--argon2-time-cost", "1"]


@dataclass
class DevpiServer:
    """devpi-server and the basic-auth proxy in front of it, both stopped by PID."""

    devpi: subprocess.Popen[bytes]
    proxy: subprocess.Popen[bytes]
    devpi_port: int
    port: int
    username: str
    password: str = field(repr=False)
    index: str
    log: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """The proxy's origin: what clients talk to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The private index's Simple API root through the proxy, without credentials."""
        return f"{self.origin}/{self.username}/{self.index}/+simple/"

    @property
    def url_with_credentials(self) -> str:
        return self.url.replace("http://", f"http://{self.username}:{self.password}@", 1)

    @property
    def devpi_origin(self) -> str:
        """devpi-server itself, without the proxy (no authentication)."""
        return f"http://127.0.0.1:{self.devpi_port}"

    def requests(self) -> list[dict[str, object]]:
        """Every request the proxy answered: method, path, accept, authorization, status."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        """Stop the proxy, then devpi-server, by their PIDs."""
        stop_process(self.proxy)
        stop_process(self.devpi)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    auth: tuple[str, str] | None = None,
) -> bytes:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Accept", "application/json")
    if content_type:
        request.add_header("Content-Type", content_type)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=30) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")
        raise RuntimeError(f"devpi: {method} {url} -> {error.code}: {detail}") from None


def _multipart(fields: dict[str, str], file_field: str, file: Path) -> tuple[bytes, str]:
    boundary = "spip-test-" + secrets.token_hex(8)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + file.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _start_devpi_server(serverdir: Path, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """devpi-server on a free port, once it answers its API; a few tries if the port is taken."""
    for _attempt in range(3):
        port = _free_port()
        argv = [sys.executable, "-m", "devpi_server", "--serverdir", str(serverdir)]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--offline-mode"]
        argv += ["--threads", "20", *_ARGON2]
        with open(work / "devpi-server.log", "ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
            )
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                _call("GET", f"http://127.0.0.1:{port}/+api")
                return process, port
            except (OSError, RuntimeError):
                time.sleep(0.05)
        stop_process(process)
    raise RuntimeError(f"devpi-server failed to start: see {work / 'devpi-server.log'}")


def start_devpi(
    packages_dir: Path,
    work: Path,
    *,
    username: str,
    password: str,
    index: str = "private",
) -> DevpiServer:
    """A private devpi index ``USERNAME/INDEX`` holding every wheel and sdist of
    ``packages_dir``, served through a basic-auth proxy (``USERNAME:PASSWORD``)."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    work.mkdir(parents=True, exist_ok=True)
    serverdir = work / "serverdir"
    init = "import sys; from devpi_server.init import init; sys.exit(init())"
    argv = [sys.executable, "-c", init, "--serverdir", str(serverdir), "--no-root-pypi"]
    argv += ["--root-passwd", secrets.token_urlsafe(12)]  # nobody logs in as root
    subprocess.run(
        argv,
        check=True,
        capture_output=True,
        env=child_env(),
    )
    timings["init"] = time.monotonic() - started
    mark = time.monotonic()
    devpi, devpi_port = _start_devpi_server(serverdir, work)
    timings["start"] = time.monotonic() - mark
    mark = time.monotonic()
    try:
        api = f"http://127.0.0.1:{devpi_port}"
        user = json.dumps({"password": password, "email": f"{username}@example.invalid"})
        _call("PUT", f"{api}/{username}", body=user.encode(), content_type="application/json")
        # Log in once: devpi checks a password with a slow hash on every request, a login
        # token cheaply (about 0.1 s saved per upload).
        login = json.dumps({"user": username, "password": password}).encode()
        answer = _call("POST", f"{api}/+login", body=login, content_type="application/json")
        credentials = (username, str(json.loads(answer)["result"]["password"]))
        config = json.dumps({"type": "stage", "bases": [], "volatile": True})
        _call(
            "PUT",
            f"{api}/{username}/{index}",
            body=config.encode(),
            content_type="application/json",
            auth=credentials,
        )
        distributions = sorted(
            p for p in packages_dir.iterdir() if p.name.endswith((".whl", ".tar.gz"))
        )
        for path in distributions:
            metadata = distribution_metadata(path)
            fields = {
                ":action": "file_upload",
                "name": metadata["Name"],
                "version": metadata["Version"],
            }
            if "Requires-Python" in metadata:
                fields["requires_python"] = metadata["Requires-Python"]
            body, content_type = _multipart(fields, "content", path)
            _call(
                "POST",
                f"{api}/{username}/{index}/",
                body=body,
                content_type=content_type,
                auth=credentials,
            )
        timings["upload"] = time.monotonic() - mark
        mark = time.monotonic()
        secret = work / "proxy-credentials"
        secret.touch(mode=0o600)
        secret.write_text(f"{username}:{password}")
        port_file, log = work / "proxy.port", work / "proxy.log"
        for stale in (port_file, log):
            stale.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "tests.support.auth_proxy", "--upstream", api]
        argv += ["--credentials", str(secret), "--port-file", str(port_file), "--log", str(log)]
        with open(work / "proxy.err", "wb") as errors:
            proxy = subprocess.Popen(
                argv,
                cwd=REPO,
                env=child_env(),
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        port = wait_for_port(proxy, port_file, "auth proxy")
    except BaseException:
        stop_process(devpi)
        raise
    timings["proxy"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    return DevpiServer(devpi, proxy, devpi_port, port, username, password, index, log, timings)
