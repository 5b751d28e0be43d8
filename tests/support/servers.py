"""Real index servers for tests: pypiserver subprocesses on 127.0.0.1, stopped by PID."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent  # the working directory of ``python -m tests.support.X`` servers


def child_env() -> dict[str, str]:
    """The environment of a server process: no PIP_* or PYTHON* variables of the tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, by its PID: terminate, then kill after a timeout."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for_port(process: subprocess.Popen[bytes], port_file: Path, what: str) -> int:
    """The port a server wrote once bound (it writes the file atomically)."""
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"{what} failed to start")
        time.sleep(0.02)
    return int(port_file.read_text())


@dataclass
class StaticServer:
    """Python's http.server over a directory (Last-Modified, 304s, a request log).

    ``log`` is http.server's own text log; ``requests()`` parses the JSON-lines log kept
    beside it (method, path, Accept, raw Authorization, status), as the other servers'.
    """

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The Simple API root of a tree written by ``write_static_index``."""
        return f"{self.origin}/simple/"

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def requests(self) -> list[dict[str, object]]:
        json_log = self.log.with_suffix(".jsonl")
        if not json_log.exists():
            return []
        return [json.loads(line) for line in json_log.read_text().splitlines() if line]

    def stop(self) -> None:
        """Stop the server by its PID."""
        stop_process(self.process)


_STATIC = """
import functools, http.server, json, os, pathlib, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(sys.argv[3], "a") as handle:
            handle.write(fmt % args + "\\n")
    def log_request(self, code="-", size="-"):
        entry = {"method": self.command, "path": self.path,
                 "accept": self.headers.get("Accept"),
                 "authorization": self.headers.get("Authorization"),
                 "status": int(code) if isinstance(code, int) else None}
        with open(sys.argv[3][:-len(".log")] + ".jsonl", "a") as handle:
            handle.write(json.dumps(entry) + "\\n")
        super().log_request(code, size)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                         functools.partial(Handler, directory=sys.argv[1]))
pathlib.Path(sys.argv[2] + ".tmp").write_text(str(server.server_port))
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
"""


def start_static_server(root: Path, work: Path) -> StaticServer:
    """Serve ``root`` read-only on 127.0.0.1 (a static index, a dumb git repository...)."""
    work.mkdir(parents=True, exist_ok=True)
    port_file, log = work / "port", work / "static.log"
    process = subprocess.Popen(
        [sys.executable, "-c", _STATIC, str(root), str(port_file), str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return StaticServer(process, wait_for_port(process, port_file, "static server"), log)


@dataclass
class IndexServer:
    """A running pypiserver with an access log."""

    root: Path
    log: Path
    process: subprocess.Popen[bytes]
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The Simple API root, with a trailing slash, without credentials."""
        return f"{self.scheme}://127.0.0.1:{self.port}/simple/"

    @property
    def pid(self) -> int:
        return self.process.pid

    def requests(self) -> list[dict[str, str | None]]:
        """Every request logged so far."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def mark(self) -> int:
        """A position in the log, to look only at later requests."""
        return len(self.requests())

    def project_requests(self, since: int = 0) -> set[str]:
        """Normalized project names asked about (pages and files) after ``since``."""
        names = set()
        for entry in self.requests()[since:]:
            path = unquote(entry["path"] or "")
            match = re.match(r"^/simple/([^/]+)/?$", path)
            if match:
                names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
                continue
            match = re.match(r"^/packages/([^/]+)$", path)
            if match:
                filename = match.group(1)
                stem = filename.split("-", 1)[0]
                names.add(re.sub(r"[-_.]+", "-", stem).lower())
        return names

    def stop(self) -> None:
        """Stop the server by its PID."""
        stop_process(self.process)


def start_server(
    root: Path,
    work: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: tuple[Path, Path] | None = None,
    client_ca: Path | None = None,
    fallback_url: str | None = None,
) -> IndexServer:
    """Start pypiserver serving ``root``; basic auth when a username is given.

    ``tls``: (certificate chain, key) to serve HTTPS; ``client_ca`` then demands a client
    certificate signed by that CA (mutual TLS; failed handshakes are logged with a
    ``tls_error``).  ``fallback_url``: a project this index does not hold is redirected
    there (pypiserver's forwarding, ``{fallback_url}/{project}/``); without it, a 404.
    """
    if client_ca is not None and tls is None:
        raise ValueError("a client CA needs tls=(certificate, key)")
    work.mkdir(parents=True, exist_ok=True)
    port_file = work / "port"
    log = work / "access.log"
    for stale in (port_file, log):
        stale.unlink(missing_ok=True)
    argv = [
        sys.executable,
        str(HERE / "serve_index.py"),
        "--root",
        str(root),
        "--port-file",
        str(port_file),
        "--log",
        str(log),
    ]
    if username:
        assert password is not None
        from passlib.apache import HtpasswdFile

        htpasswd = work / "htpasswd"
        table = HtpasswdFile(str(htpasswd), new=True)
        table.set_password(username, password)
        table.save()
        argv += ["--htpasswd", str(htpasswd)]
    if tls is not None:
        argv += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    if client_ca is not None:
        argv += ["--client-ca", str(client_ca)]
    if fallback_url is not None:
        argv += ["--fallback-url", fallback_url]
    with open(work / "server.err", "wb") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=child_env())
    port = wait_for_port(process, port_file, "index server")
    return IndexServer(root, log, process, port, username, password, "https" if tls else "http")


@dataclass
class FaultProxy:
    """A running fault proxy (tests/support/faults.py), stopped by PID."""

    process: subprocess.Popen[bytes]
    port: int
    rules_file: Path
    log: Path

    @property
    def url(self) -> str:
        """The proxied Simple API root."""
        return f"http://127.0.0.1:{self.port}/simple/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_rules(self, rules: list[dict[str, object]]) -> None:
        """Replace the fault rules (read by the proxy on every request)."""
        temp = self.rules_file.with_suffix(".tmp")
        temp.write_text(json.dumps(rules))
        os.replace(temp, self.rules_file)

    def requests(self) -> list[dict[str, str | None]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        """Stop the proxy by its PID."""
        stop_process(self.process)


def start_fault_proxy(upstream: str, work: Path, *, add_auth: str | None = None) -> FaultProxy:
    """Start a fault proxy in front of ``upstream`` (an origin like http://127.0.0.1:PORT)."""
    work.mkdir(parents=True, exist_ok=True)
    port_file, log, rules = work / "port", work / "proxy.log", work / "rules.json"
    rules.write_text("[]")
    argv = [
        sys.executable,
        str(HERE / "faults.py"),
        "--upstream",
        upstream,
        "--rules",
        str(rules),
        "--port-file",
        str(port_file),
        "--log",
        str(log),
    ]
    if add_auth:
        argv += ["--add-auth", add_auth]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return FaultProxy(process, wait_for_port(process, port_file, "fault proxy"), rules, log)


@dataclass
class MitmProxy:
    """A running TLS-intercepting proxy (tests/support/mitm_proxy.py), stopped by PID."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The proxy's URL, for HTTPS_PROXY / HTTP_PROXY or pip's ``--proxy``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.url

    def requests(self) -> list[dict[str, object]]:
        """CONNECTs (``method`` CONNECT, ``target``) and relayed requests (``url``), in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def connects(self) -> list[str]:
        """The ``host:port`` targets of every CONNECT so far."""
        return [str(e["target"]) for e in self.requests() if e.get("method") == "CONNECT"]

    def stop(self) -> None:
        """Stop the proxy by its PID."""
        stop_process(self.process)


def start_mitm_proxy(work: Path, ca_cert: Path, ca_key: Path, *, upstream_ca: Path) -> MitmProxy:
    """Start a proxy that intercepts TLS with certificates signed by ``ca_cert``/``ca_key``
    and verifies the real servers against ``upstream_ca``."""
    work.mkdir(parents=True, exist_ok=True)
    port_file, log = work / "port", work / "mitm.log"
    for stale in (port_file, log):
        stale.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "tests.support.mitm_proxy", "--ca-cert", str(ca_cert)]
    argv += ["--ca-key", str(ca_key), "--upstream-ca", str(upstream_ca)]
    argv += ["--cert-dir", str(work / "minted"), "--port-file", str(port_file), "--log", str(log)]
    with open(work / "mitm.err", "wb") as stderr:
        process = subprocess.Popen(
            argv, cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=stderr
        )
    return MitmProxy(process, wait_for_port(process, port_file, "MITM proxy"), log)
