"""Run a real pypiserver on 127.0.0.1 (ephemeral port) with a JSON-lines access log.

    python serve_index.py --root DIR --port-file FILE --log FILE [--htpasswd FILE]

The port is bound first (port 0), then written to ``--port-file``; every request is logged
(method, path, Accept header, raw Authorization header).  Its fallback redirect to a public
index is disabled: the test network is 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pypiserver


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # wsgiref's default backlog of 5 drops the SYNs of parallel clients, which then wait
    # a full second to retransmit: a real index accepts far more at once.
    request_queue_size = 256


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
    args = parser.parse_args()
    options = {"roots": [args.root], "disable_fallback": True}
    if args.htpasswd:
        options.update(authenticate=["download", "list", "update"], password_file=args.htpasswd)
    else:
        options.update(authenticate=[], password_file=".")
    app = pypiserver.app(**options)
    lock = threading.Lock()

    def logged(environ: dict, start_response):  # type: ignore[no-untyped-def]
        entry = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING"),
            "accept": environ.get("HTTP_ACCEPT"),
            "authorization": environ.get("HTTP_AUTHORIZATION"),
        }
        with lock, open(args.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, logged, server_class=_Server, handler_class=_QuietHandler)
    if args.certfile:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.certfile, args.keyfile)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_port))
    import os

    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
