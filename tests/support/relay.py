"""What the relaying test proxies share (auth_proxy.py, mitm_proxy.py).

A threading HTTP server on 127.0.0.1 with an ephemeral port written atomically to a port file,
a JSON-lines request log, the end-to-end headers of a message (hop-by-hop ones dropped), and
``relay_response``: an upstream ``http.client`` response sent back to the client, streamed in
chunks (with its Content-Length, or re-chunked when the upstream had none), or read whole and
rewritten when the caller rewrites bodies of that type.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from email.message import Message
from http.client import HTTPResponse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024

# RFC 9110 section 7.6.1, plus the proxy headers no upstream must see.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class JsonLog:
    """Append one JSON object per line; safe across the server's threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    def write(self, entry: dict[str, object]) -> None:
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def end_to_end(headers: Message, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The headers a proxy passes on: not hop-by-hop, not named by Connection, not ``drop``."""
    skip = set(HOP_BY_HOP) | {name.lower() for name in drop}
    for value in headers.get_all("Connection") or []:
        skip.update(token.strip().lower() for token in value.split(","))
    return [(name, value) for name, value in headers.items() if name.lower() not in skip]


def relay_response(
    handler: BaseHTTPRequestHandler,
    response: HTTPResponse,
    *,
    rewrite: Callable[[str], str] | None = None,
    rewritable: Callable[[str], bool] = lambda content_type: False,
    before_sending: Callable[[], None] = lambda: None,
) -> int:
    """Send ``response`` to the handler's client; return the number of body bytes sent.

    ``rewrite`` is applied to the Location header and, when ``rewritable(content_type)``, to
    the body (read whole, as UTF-8).  Other bodies are streamed ``CHUNK`` bytes at a time.
    ``before_sending`` runs once the rewrites are done and before the client gets a byte: a
    request logged there is in the log by the time the client has its answer.
    """
    head = handler.command == "HEAD" or response.status in (204, 304) or response.status < 200
    headers = end_to_end(response.headers, drop=("Server", "Date"))
    body: bytes | None = None
    content_type = response.headers.get("Content-Type", "")
    if rewrite is not None and not head and rewritable(content_type):
        body = rewrite(response.read().decode("utf-8")).encode("utf-8")
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
    if rewrite is not None:
        headers = [(k, rewrite(v) if k.lower() == "location" else v) for k, v in headers]
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    chunked = not head and body is None and length is None
    before_sending()
    handler.send_response(response.status, response.reason)
    for name, value in headers:
        handler.send_header(name, value)
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    if head:
        return 0
    if body is not None:
        handler.wfile.write(body)
        return len(body)
    sent = 0
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            break
        sent += len(chunk)
        if chunked:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            handler.wfile.write(chunk)
        handler.wfile.flush()
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")
    return sent


def send_text(handler: BaseHTTPRequestHandler, status: int, text: str, **headers: str) -> None:
    """A short plain-text answer of the proxy's own (errors, challenges)."""
    body = text.encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # set before listen(): parallel clients are not made to retry


def serve(handler: type[BaseHTTPRequestHandler], port_file: str) -> None:
    """Serve forever on 127.0.0.1 (ephemeral port), the port written atomically once bound."""
    server = _Server(("127.0.0.1", 0), handler)
    with open(port_file + ".tmp", "w", encoding="utf-8") as out:
        out.write(str(server.server_port))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
