"""A basic-auth reverse proxy on 127.0.0.1 in front of an index server (devpi in the tests).

    python -m tests.support.auth_proxy --upstream ORIGIN --credentials FILE \\
        --port-file FILE --log FILE

``--credentials`` names a file holding ``USER:PASSWORD`` (kept off the command line).  A
request without exactly those basic credentials is answered 401 with ``WWW-Authenticate:
Basic``.  Authorized GET and HEAD requests are forwarded to ``--upstream`` (an origin like
``http://127.0.0.1:PORT``) with their end-to-end headers (Accept, If-None-Match, ...), except:
Authorization (this proxy is the gate; the upstream serves it anonymously), Accept-Encoding
(bodies may be rewritten, so they come uncompressed) and Host (the upstream's own).

Absolute URLs that point at the upstream's origin are rewritten to the origin the client used:
the Location header, and links in HTML and JSON bodies (devpi redirects with absolute URLs, and
emits absolute links with ``--absolute-urls`` or an ``X-Devpi-Absolute-Urls`` request header).
Relative links need nothing: the proxy keeps the upstream's paths.  Other bodies (the
distribution files) are streamed.  Every request is logged as a JSON line: method, path,
Accept, the raw Authorization header, the status answered and the rewrites made.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.client
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.relay import JsonLog, end_to_end, relay_response, send_text, serve


def _rewritable(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind.endswith("json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--credentials", required=True, help="a file holding USER:PASSWORD")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--realm", default="private index")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    assert upstream.scheme == "http" and upstream.hostname and upstream.port, args.upstream
    upstream_origin = f"http://{upstream.netloc}"
    with open(args.credentials, encoding="utf-8") as handle:
        secret = handle.read().strip()
    expected = ("Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")).encode()
    log = JsonLog(args.log)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60

        def log_message(self, format: str, *values: object) -> None:
            return None

        def _log(self, status: int, rewrites: int = 0) -> None:
            log.write(
                {
                    "method": self.command,
                    "path": self.path,
                    "accept": self.headers.get("Accept"),
                    "authorization": self.headers.get("Authorization"),
                    "status": status,
                    "rewrites": rewrites,
                }
            )

        def _authorized(self) -> bool:
            given = (self.headers.get("Authorization") or "").encode("utf-8", "replace")
            return hmac.compare_digest(given, expected)

        def do_GET(self) -> None:
            if not self._authorized():
                self._log(401)
                send_text(
                    self,
                    401,
                    "authentication required\n",
                    WWW_Authenticate=f'Basic realm="{args.realm}"',
                )
                return
            if not self.path.startswith("/"):
                self._log(400)
                send_text(self, 400, "not a path\n")
                return
            origin = f"http://{self.headers.get('Host') or self.server.server_address[0]}"
            rewrites = 0

            def rewrite(text: str) -> str:
                nonlocal rewrites
                rewrites += text.count(upstream_origin)
                return text.replace(upstream_origin, origin)

            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            try:
                headers = dict(
                    end_to_end(self.headers, drop=("Authorization", "Accept-Encoding", "Host"))
                )
                connection.request(self.command, self.path, headers=headers)
                response = connection.getresponse()
            except OSError as error:  # the upstream is down: a gateway error, as proxies do
                connection.close()
                self._log(502)
                send_text(self, 502, f"upstream unreachable: {error}\n")
                return
            try:
                relay_response(
                    self,
                    response,
                    rewrite=rewrite,
                    rewritable=_rewritable,
                    before_sending=lambda: self._log(response.status, rewrites),
                )
            finally:
                connection.close()

        do_HEAD = do_GET

    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
