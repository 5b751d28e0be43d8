"""TLS trust like pip's: the system store, then the environment's and pip's CA bundles, then
the map's per-index ``ca-bundle``, which replaces all of them for that index's own hosts.

The default context trusts the operating system's store (``truststore`` on Python 3.10+, as
pip does; on 3.9 the default paths ``ssl`` reports, which honour ``SSL_CERT_FILE``), plus
certifi's bundle, plus any bundle named by ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``,
``PIP_CERT`` or pip's ``cert`` setting.  An index with ``ca-bundle`` trusts that file only, on
its own origin and its ``file-hosts``.  Client certificates (``client-cert`` in the map, or
pip's ``client-cert`` for the index pip is configured with) are presented only to that index's
hosts.  There is no way to turn verification off.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipx_secure.errors import InputError
from pipx_secure.model.redact import origin_of
from pipx_secure.model.sourcemap import Index

_ENV_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")


@dataclass(frozen=True)
class TrustSettings:
    """The CA bundles and client certificate the environment and pip's configuration name."""

    extra_ca: tuple[Path, ...] = ()
    pip_index_url: str | None = None
    pip_client_cert: Path | None = None
    default_client_cert: Path | None = None  # pip's --client-cert: every index without its own

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TrustSettings:
        """Read the environment and pip's configuration (files and ``PIP_*``)."""
        from pipx_secure.config.pipconfig import read_pip_index_config

        config = read_pip_index_config(environ)
        bundles = [environ[v] for v in _ENV_BUNDLES if environ.get(v)]
        cert = config.last("cert")
        if cert is not None:
            bundles.append(cert.value)
        client = config.last("client-cert")
        existing = [Path(b) for b in dict.fromkeys(bundles) if Path(b).exists()]
        return cls(
            extra_ca=tuple(existing),
            pip_index_url=config.index_url,
            pip_client_cert=Path(client.value) if client is not None else None,
        )


def _system_context() -> ssl.SSLContext:
    if sys.version_info >= (3, 10):
        try:
            import truststore

            return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        except ImportError:  # pragma: no cover - truststore is a dependency on 3.10+
            pass
    return ssl.create_default_context()


class TrustStore:
    """One SSL context per distinct trust decision, built once and shared by sessions."""

    def __init__(self, settings: TrustSettings) -> None:
        self.settings = settings
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def key_for(self, index: Index, url: str) -> tuple[str, ...]:
        """Which trust applies to a request for ``index`` to ``url`` (a hashable key)."""
        scheme, host, port = origin_of(url)
        own = (scheme, host, port) == index.origin or host in index.file_hosts
        if not own:
            return ("system",)
        client = index.client_cert or self.settings.default_client_cert
        pip_url = self.settings.pip_index_url
        if client is None and pip_url and origin_of(pip_url) == index.origin:
            client = self.settings.pip_client_cert
        bundle = str(index.ca_bundle) if index.ca_bundle else ""
        if not bundle and client is None:
            return ("system",)
        return ("index", bundle, str(client or ""))

    def context(self, key: tuple[str, ...]) -> ssl.SSLContext:
        """The SSL context for a key from :meth:`key_for`."""
        with self._lock:
            found = self._contexts.get(key)
            if found is None:
                found = self._build(key)
                self._contexts[key] = found
            return found

    def _build(self, key: tuple[str, ...]) -> ssl.SSLContext:
        bundle, client = (key[1], key[2]) if key[0] == "index" else ("", "")
        if bundle:
            context = ssl.create_default_context(cafile=bundle)
        else:
            context = _system_context()
            import certifi

            context.load_verify_locations(certifi.where())
            for extra in self.settings.extra_ca:
                context.load_verify_locations(str(extra))
        if client:
            try:
                context.load_cert_chain(client)
            except (ssl.SSLError, OSError) as exc:
                raise InputError(
                    f"the client certificate {client} cannot be loaded: {exc}",
                    hint="give a PEM file holding the certificate and its private key",
                ) from None
        return context


def describe(index: Index, settings: TrustSettings) -> str:
    """In words, what ``index`` is trusted with (for errors)."""
    if index.ca_bundle:
        return f"the map's ca-bundle {index.ca_bundle}"
    names = ["the system trust store", "certifi"] + [str(p) for p in settings.extra_ca]
    return ", ".join(names)
