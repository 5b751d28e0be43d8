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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    root: Path,
    work: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: tuple[Path, Path] | None = None,
) -> IndexServer:
    """Start pypiserver serving ``root``; basic auth when a username is given."""
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    stderr = open(work / "server.err", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"index server failed: {(work / 'server.err').read_text()}")
        time.sleep(0.02)
    port = int(port_file.read_text())
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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


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
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("fault proxy failed to start")
        time.sleep(0.02)
    return FaultProxy(process, int(port_file.read_text()), rules, log)
