"""A TLS-intercepting HTTP proxy on 127.0.0.1, as corporate networks run them.

    python -m tests.support.mitm_proxy --ca-cert FILE --ca-key FILE --upstream-ca FILE \\
        --cert-dir DIR --port-file FILE --log FILE

A client sends ``CONNECT host:port``; the proxy answers 200, then terminates the client's TLS
itself with a certificate for ``host`` (an IP SAN for an address, a DNS SAN for a name) minted
on the fly and signed by the "corporate" CA (``--ca-cert``/``--ca-key``).  A client trusts it
only if it trusts that CA.  The HTTP requests that then arrive inside the tunnel are re-issued
to the real ``host:port`` over the proxy's own TLS connection, which verifies the upstream's
certificate against ``--upstream-ca`` (and its host name), and the answers are streamed back.
Plain ``http://`` absolute-URI requests are forwarded too (a plain forward proxy).

Only loopback targets (127.0.0.1, localhost, ::1) are served: anything else is refused with
403, the test network being this machine.  Every CONNECT (``"method": "CONNECT"``, target,
and a ``tls_error`` if the client refused the minted certificate) and every relayed request
(method, absolute URL, Accept, raw Authorization, status) is logged as a JSON line.  GET,
HEAD, POST and PUT are relayed; request bodies need a Content-Length.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.certificates import server_cert_pem
from tests.support.relay import JsonLog, end_to_end, relay_response, send_text, serve

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _split_target(target: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) of a CONNECT request."""
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ca-cert", required=True, help="the CA that signs minted certificates")
    parser.add_argument("--ca-key", required=True)
    parser.add_argument("--upstream-ca", required=True, help="the CA upstream servers use")
    parser.add_argument("--cert-dir", required=True, help="where minted certificates go")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    ca_pem = (Path(args.ca_cert).read_bytes(), Path(args.ca_key).read_bytes())
    cert_dir = Path(args.cert_dir)
    cert_dir.mkdir(parents=True, exist_ok=True)
    upstream_tls = ssl.create_default_context(cafile=args.upstream_ca)
    log = JsonLog(args.log)
    minted: dict[str, ssl.SSLContext] = {}
    mint_lock = threading.Lock()

    def context_for(host: str) -> ssl.SSLContext:
        """A server context presenting a certificate for ``host``, minted once per host."""
        with mint_lock:
            if host not in minted:
                cert_pem, key_pem = server_cert_pem(*ca_pem, hosts=(host,))
                stem = host.replace(":", "_")
                cert, key = cert_dir / f"{stem}.pem", cert_dir / f"{stem}.key"
                cert.write_bytes(cert_pem)
                key.touch(mode=0o600)
                key.write_bytes(key_pem)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(cert, key)
                minted[host] = context
            return minted[host]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60
        tunnel: tuple[str, int] | None = None
        upstream: http.client.HTTPConnection | None = None

        def log_message(self, format: str, *values: object) -> None:
            return None

        def handle(self) -> None:
            try:
                super().handle()
            except (OSError, ssl.SSLError):  # the client went away mid-tunnel
                pass
            finally:
                if self.upstream is not None:
                    self.upstream.close()

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                if self.tunnel is not None:
                    self.connection.close()

        def do_CONNECT(self) -> None:
            entry: dict[str, object] = {"method": "CONNECT", "target": self.path}
            try:
                host, port = _split_target(self.path)
            except ValueError:
                log.write({**entry, "status": 400})
                send_text(self, 400, "CONNECT needs host:port\n")
                return
            if host not in LOOPBACK:
                log.write({**entry, "status": 403})
                send_text(self, 403, "only loopback targets here\n")
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            try:
                client = context_for(host).wrap_socket(self.connection, server_side=True)
            except (OSError, ssl.SSLError) as error:  # the client does not trust our CA
                log.write({**entry, "status": 200, "tls_error": str(error)})
                self.close_connection = True
                return
            log.write({**entry, "status": 200})
            # Go on reading requests, now from inside the tunnel.
            self.connection = client
            self.rfile = client.makefile("rb")
            self.wfile = client.makefile("wb")
            self.tunnel = (host, port)
            self.close_connection = False

        def _relay(self) -> None:
            if self.tunnel is not None:
                host, port = self.tunnel
                scheme, path = "https", self.path
                netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            else:
                target = urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self._log(self.path, 400)
                    send_text(self, 400, "a proxy request needs an absolute http:// URL\n")
                    return
                host, port = target.hostname, target.port or 80
                scheme, netloc = "http", target.netloc
                path = target.path or "/"
                if target.query:
                    path += "?" + target.query
            url = f"{scheme}://{netloc}{path}"
            if host not in LOOPBACK:
                self._log(url, 403)
                send_text(self, 403, "only loopback targets here\n")
                return
            body = None
            if self.headers.get("Transfer-Encoding"):
                self._log(url, 411)
                send_text(self, 411, "request bodies need a Content-Length\n")
                return
            if self.headers.get("Content-Length"):
                body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.upstream is None or (host, port) != (self.upstream.host, self.upstream.port):
                if self.upstream is not None:
                    self.upstream.close()
                if scheme == "https":
                    self.upstream = http.client.HTTPSConnection(
                        host, port, timeout=30, context=upstream_tls
                    )
                else:
                    self.upstream = http.client.HTTPConnection(host, port, timeout=30)
            headers = dict(end_to_end(self.headers))
            try:
                self.upstream.request(self.command, path, body=body, headers=headers)
                response = self.upstream.getresponse()
            except (OSError, http.client.HTTPException) as error:
                # Unreachable, or its certificate is not the upstream CA's: a gateway error.
                self.upstream.close()
                self._log(url, 502, str(error))
                send_text(self, 502, f"upstream failed: {error}\n")
                return
            self._log(url, response.status)
            relay_response(self, response)

        def _log(self, url: str, status: int, error: str | None = None) -> None:
            entry: dict[str, object] = {
                "method": self.command,
                "url": url,
                "tunnel": f"{self.tunnel[0]}:{self.tunnel[1]}" if self.tunnel else None,
                "accept": self.headers.get("Accept"),
                "authorization": self.headers.get("Authorization"),
                "status": status,
            }
            if error:
                entry["error"] = error
            log.write(entry)

        do_GET = do_HEAD = do_POST = do_PUT = _relay

    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
