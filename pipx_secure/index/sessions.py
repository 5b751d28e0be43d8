"""requests sessions for index traffic: network settings, retries, TLS trust per adapter, and
the sealed HTTP cache of project pages (CacheControl) revalidated on every use.

A session made without an SSL context serves plain ``http://`` only; see :func:`_mount`.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pipx_secure import __version__
from pipx_secure.errors import UsageError
from pipx_secure.index.seal import Sealer

USER_AGENT = f"spip/{__version__}"


@dataclass(frozen=True)
class HttpSettings:
    """Network settings, fixed at the CLI boundary."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.25
    workers: int = 16
    proxy: str | None = None  # pip's --proxy: for every request, instead of the environment's
    no_proxy_env: bool = False  # pip's --no-proxy-env

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """``SPIP_TIMEOUT`` (seconds) and ``SPIP_RETRIES`` override the defaults."""
        env = os.environ if environ is None else environ
        settings = cls()
        try:
            if env.get("SPIP_TIMEOUT"):
                timeout = float(env["SPIP_TIMEOUT"])
                settings = replace(settings, connect_timeout=timeout, read_timeout=timeout)
            if env.get("SPIP_RETRIES"):
                settings = replace(settings, retries=max(0, int(env["SPIP_RETRIES"])))
        except ValueError:
            raise UsageError(
                "SPIP_TIMEOUT must be a number of seconds and SPIP_RETRIES a whole number"
            ) from None
        return settings


def _retry(settings: HttpSettings) -> Retry:
    return Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        redirect=False,
    )


class TrustAdapter(HTTPAdapter):
    """An adapter whose TLS trust is exactly one SSL context (also through proxies).

    requests would otherwise add certifi's bundle to every connection (``cert_verify``) and
    build proxied connections without the context; both are overridden here.  An adapter
    without a context is mounted for plain ``http://`` only (see :func:`_mount`).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, **kwargs: Any) -> None:
        self.ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ssl_context", self.ssl_context)
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs.setdefault("ssl_context", self.ssl_context)
        return super().proxy_manager_for(proxy, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _mount(
    session: requests.Session, adapter: HTTPAdapter, ssl_context: ssl.SSLContext | None
) -> requests.Session:
    """Mount ``adapter``; without an SSL context it serves ``http://`` only, and any
    ``https://`` request through this session fails (requests' own adapters are removed)."""
    session.trust_env = False  # no netrc auto-auth, no env CA/proxy surprises: we decide
    session.adapters.clear()
    session.mount("http://", adapter)
    if ssl_context is not None:
        session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def plain_session(settings: HttpSettings, ssl_context: ssl.SSLContext | None) -> requests.Session:
    """A pooled session with retries that reads nothing from the environment on its own
    (``ssl_context`` None: plain HTTP only, no TLS at all)."""
    adapter = TrustAdapter(
        ssl_context,
        pool_connections=8,
        pool_maxsize=settings.workers,
        max_retries=_retry(settings),
    )
    return _mount(requests.Session(), adapter, ssl_context)


def _sealed_file_cache(http_dir: str, sealer: Sealer, warn: Callable[[str], None]) -> Any:
    """CacheControl's file cache whose entries carry a seal; a bad one is a miss."""
    from cachecontrol.caches.file_cache import FileCache

    class _SealedFileCache(FileCache):
        def get(self, key: str) -> bytes | None:
            sealed = super().get(key)
            data = None if sealed is None else sealer.open_bytes("page", key, sealed)
            if sealed is not None and data is None:
                self.delete(key)
                warn(f"warning: a cached project page failed its check and was discarded ({key})")
            return data

        def set(self, key: str, value: bytes, expires: Any = None) -> None:
            super().set(key, sealer.seal_bytes("page", key, value), expires)

    # cachecontrol only enters the lock; its annotation names filelock's class.
    return _SealedFileCache(http_dir, lock_class=cast(Any, _LazyFileLock))


class _LazyFileLock:
    """filelock's ``FileLock``, imported when a page is first stored (a run whose indexes send
    no validators stores none, and need not import it)."""

    def __init__(self, path: str) -> None:
        from filelock import FileLock

        self._lock = FileLock(path)

    def __enter__(self) -> _LazyFileLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def page_session(
    settings: HttpSettings,
    http_dir: str | None,
    ssl_context: ssl.SSLContext | None,
    sealer: Sealer | None = None,
    warn: Callable[[str], None] = lambda text: None,
) -> requests.Session:
    """A session whose project pages are cached on disk, sealed, and revalidated."""
    if http_dir is None or sealer is None:
        return plain_session(settings, ssl_context)
    from cachecontrol.adapter import CacheControlAdapter
    from cachecontrol.heuristics import BaseHeuristic
    from cachecontrol.serialize import Serializer

    class _NoSecretSerializer(Serializer):
        """Never let a request's Authorization header reach the cache on disk."""

        def dumps(self, request: Any, response: Any, body: bytes | None = None) -> bytes:
            request = request.copy()
            request.headers.pop("Authorization", None)
            return bytes(super().dumps(request, response, body))

    class _Revalidate(BaseHeuristic):
        """Store pages that carry only Last-Modified, so they can be revalidated (304).

        Every page request says ``Cache-Control: max-age=0``, so a stored page is never used
        without the index confirming it (If-Modified-Since / If-None-Match).
        """

        def update_headers(self, response: Any) -> dict[str, str]:
            headers = response.headers
            if "last-modified" in headers and not (
                "etag" in headers or "expires" in headers or "cache-control" in headers
            ):
                from email.utils import formatdate

                return {"expires": formatdate(time.time() + 86400, usegmt=True)}
            return {}

    class _CachingTrustAdapter(CacheControlAdapter, TrustAdapter):
        pass

    adapter = _CachingTrustAdapter(
        ssl_context=ssl_context,
        cache=_sealed_file_cache(http_dir, sealer, warn),
        serializer=_NoSecretSerializer(),
        heuristic=_Revalidate(),
        pool_connections=8,
        pool_maxsize=settings.workers,
        max_retries=_retry(settings),
    )
    return _mount(requests.Session(), adapter, ssl_context)
