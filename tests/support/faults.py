"""A fault-injecting HTTP proxy on 127.0.0.1, in front of a real index server.

    python faults.py --upstream URL --rules FILE --port-file FILE --log FILE

Rules (a JSON list, re-read on every request, first match wins) choose a fault per path:
``{"path": REGEX, "fault": NAME, "times": N, ...}``; ``times`` (optional) limits how often the
rule fires, so a fault can heal.  Faults: ``status`` (answer ``code``), ``hang`` (sleep
``seconds`` before answering), ``reset`` (send half the body, then drop the connection),
``truncate`` (send half the body without a Content-Length, then close), ``corrupt`` (flip
bytes), ``redirect`` (302 to ``location`` + the same path), ``body`` (answer ``body`` with
``content_type``), ``huge`` (stream ``megabytes`` of HTML), ``trickle`` (the real body in
``pieces`` parts, ``pause`` seconds apart; with ``stall`` seconds it stops half-way and waits).
Without a matching rule the request
is forwarded, with its Authorization header, to the upstream.  Every request is logged as a
JSON line (path, Authorization header, fault applied).  ``--add-auth USER:PASSWORD`` makes the
proxy itself authenticate to the upstream (a file host with its own credentials).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FIRED: dict[int, int] = {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--add-auth")
    args = parser.parse_args()
    upstream = args.upstream.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *values: object) -> None:
            return None

        def _rule(self) -> dict[str, object] | None:
            try:
                with open(args.rules, encoding="utf-8") as handle:
                    rules = json.load(handle)
            except (OSError, ValueError):
                return None
            for number, rule in enumerate(rules):
                if re.search(str(rule["path"]), self.path):
                    with LOCK:
                        fired = FIRED.get(number, 0)
                        if "times" in rule and fired >= int(rule["times"]):
                            continue
                        FIRED[number] = fired + 1
                    return dict(rule)
            return None

        def _log(self, fault: str | None) -> None:
            entry = {
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "accept": self.headers.get("Accept"),
                "fault": fault,
            }
            with LOCK, open(args.log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

        def _upstream(self) -> tuple[int, dict[str, str], bytes]:
            # A request line with an absolute URL makes this a forward proxy for that URL.
            target = self.path if self.path.startswith("http://") else upstream + self.path
            request = urllib.request.Request(target)
            for header in ("Authorization", "Accept", "If-None-Match", "If-Modified-Since"):
                if self.headers.get(header):
                    request.add_header(header, self.headers[header])
            if args.add_auth:
                token = base64.b64encode(args.add_auth.encode()).decode()
                request.add_header("Authorization", f"Basic {token}")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(request, timeout=30) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), error.read()
            except OSError as error:  # the upstream is down: a gateway error, as proxies do
                return 502, {"Content-Type": "text/plain"}, str(error).encode()

        def _send(
            self, status: int, headers: dict[str, str], body: bytes, length: bool = True
        ) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "server",
                    "date",
                ):
                    self.send_header(key, value)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            rule = self._rule()
            fault = str(rule["fault"]) if rule else None
            self._log(fault)
            if rule is None:
                self._send(*self._upstream())
                return
            if fault == "status":
                self._send(int(rule["code"]), {"Content-Type": "text/plain"}, b"fault\n")
            elif fault == "hang":
                time.sleep(float(rule.get("seconds", 30)))
                self._send(*self._upstream())
            elif fault in ("reset", "truncate"):
                status, headers, body = self._upstream()
                self.send_response(status)
                if fault == "reset":
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                if fault == "reset":
                    import socket

                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
            elif fault == "corrupt":
                status, headers, body = self._upstream()
                flipped = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
                self._send(status, headers, flipped)
            elif fault == "redirect":
                self._send(302, {"Location": str(rule["location"]) + self.path}, b"")
            elif fault == "body":
                self._send(
                    200,
                    {"Content-Type": str(rule.get("content_type", "text/html"))},
                    str(rule["body"]).encode(),
                )
            elif fault == "huge":
                megabytes = int(rule.get("megabytes", 65))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(megabytes * 1024 * 1024))
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<!-- " + b"x" * (1024 * 1024 - 9) + b" -->"
                try:
                    for _ in range(megabytes):
                        self.wfile.write(chunk[: 1024 * 1024])
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif fault == "trickle":
                status, headers, body = self._upstream()
                self.send_response(status)
                self.send_header("Content-Type", headers.get("Content-Type", "application/zip"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = max(1, int(rule.get("pieces", 10)))
                size = max(1, len(body) // pieces)
                try:
                    for start in range(0, len(body), size):
                        if "stall" in rule and start >= len(body) // 2:
                            time.sleep(float(rule["stall"]))
                            return
                        self.wfile.write(body[start : start + size])
                        self.wfile.flush()
                        time.sleep(float(rule.get("pause", 0.2)))
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self._send(500, {}, b"unknown fault\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_port))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
