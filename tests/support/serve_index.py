"""Run a real pypiserver on 127.0.0.1 (ephemeral port) with a JSON-lines access log.

    python serve_index.py --root DIR --port-file FILE --log FILE [--htpasswd FILE]
        [--certfile FILE --keyfile FILE [--client-ca FILE]] [--fallback-url URL]

The port is bound first (port 0), then written to ``--port-file``; every request is logged
(method, path, Accept header, raw Authorization header).  pypiserver's fallback redirect (a
project it does not hold is forwarded to a public index) is disabled unless ``--fallback-url``
names where to forward, which must be another local server: the test network is 127.0.0.1 only.

With ``--certfile`` it serves HTTPS; ``--client-ca`` then requires a client certificate signed
by that CA (mutual TLS).  The TLS handshake runs in the connection's own thread, and a failed
one is logged too: an entry whose ``tls_error`` says why (its other fields are null).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pypiserver


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # wsgiref's default backlog of 5 drops the SYNs of parallel clients, which then wait
    # a full second to retransmit: a real index accepts far more at once.
    request_queue_size = 256
    tls: ssl.SSLContext | None = None
    log_tls_error: Callable[[str], None] = staticmethod(lambda error: None)

    def finish_request(self, request, client_address):  # type: ignore[no-untyped-def]
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(30)
        try:
            secured = self.tls.wrap_socket(request, server_side=True)
        except OSError as error:  # ssl.SSLError included: no certificate, an untrusted one...
            self.log_tls_error(str(error))
            return
        try:
            super().finish_request(secured, client_address)
        finally:
            with contextlib.suppress(OSError):
                secured.shutdown(socket.SHUT_WR)
            secured.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--htpasswd")
    parser.add_argument("--certfile", help="serve HTTPS with this certificate chain")
    parser.add_argument("--keyfile")
    parser.add_argument("--client-ca", help="require client certificates signed by this CA")
    parser.add_argument("--fallback-url", help="redirect projects not held here to this index")
    args = parser.parse_args()
    options: dict[str, object] = {"roots": [args.root], "disable_fallback": True}
    if args.fallback_url:
        options.update(disable_fallback=False, fallback_url=args.fallback_url)
    if args.htpasswd:
        options.update(authenticate=["download", "list", "update"], password_file=args.htpasswd)
    else:
        options.update(authenticate=[], password_file=".")
    app = pypiserver.app(**options)
    lock = threading.Lock()

    def write(entry: dict[str, str | None]) -> None:
        with lock, open(args.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def logged(environ: dict, start_response):  # type: ignore[no-untyped-def]
        write(
            {
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING"),
                "accept": environ.get("HTTP_ACCEPT"),
                "authorization": environ.get("HTTP_AUTHORIZATION"),
            }
        )
        return app(environ, start_response)

    def log_tls_error(error: str) -> None:
        fields = ("method", "path", "query", "accept", "authorization")
        write({**dict.fromkeys(fields), "tls_error": error})

    server = make_server("127.0.0.1", 0, logged, server_class=_Server, handler_class=_QuietHandler)
    if args.certfile:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=args.client_ca)
        server.tls = context
        server.log_tls_error = log_tls_error  # type: ignore[method-assign]
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_port))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
