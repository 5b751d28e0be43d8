"""HTTP requests to one index: sessions, redirects, credentials per origin, errors that say why.

:class:`Requester` follows redirects itself and attaches the ``Authorization`` header only when
a request's origin (scheme, host, port) is the index's own, or a host the map lists in
``file-hosts`` over https.  An https→http redirect is refused; a project page must stay on the
index's origin.  Retries (connection errors, timeouts, 500/502/503/504) are urllib3's, with
exponential backoff; 401, 403, 404 are never retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from urllib.parse import urljoin

import requests

from pipx_secure.config.credentials import Credential, CredentialStore
from pipx_secure.errors import (
    ForwardingError,
    IndexError_,
    IntegrityError,
)
from pipx_secure.index.failures import auth_error, tls_error
from pipx_secure.index.seal import Sealer
from pipx_secure.index.sessions import HttpSettings, page_session, plain_session
from pipx_secure.index.tls import TrustStore
from pipx_secure.model.hashes import CHUNK
from pipx_secure.model.redact import RedactedUrl, origin_of
from pipx_secure.model.sourcemap import Index

MAX_REDIRECTS = 5
__all__ = ["HttpSettings", "Requester", "bounded_body"]


class Requester:
    """GETs for one process: credentials per index origin, TLS trust per index, redirects
    followed by hand.  Sessions are made per kind (cached pages, files) and trust decision."""

    def __init__(
        self,
        credentials: CredentialStore | None,
        settings: HttpSettings,
        trust: TrustStore,
        http_dir: str | None = None,
        sealer: Sealer | None = None,
        warn: Callable[[str], None] = lambda text: None,
        *,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        self.trace = trace
        self.credentials = credentials
        self.settings = settings
        self.trust = trust
        self.http_dir = http_dir
        self.sealer = sealer
        self.warn = warn
        self.count = 0
        self._sessions: dict[tuple[str, bool, tuple[str, ...]], requests.Session] = {}
        self._proxy_for: dict[tuple[str, str, int | None], dict[str, str]] = {}
        self._lock = threading.Lock()

    def session(self, kind: str, index: Index, url: str) -> requests.Session:
        """The session for a ``kind`` ("pages" or "files") request of ``index`` to ``url``.

        TLS is set up only for a request that needs it (an https URL, or an https proxy);
        a plain-http session has no https adapter at all, so it cannot carry such a request.
        """
        tls = origin_of(url)[0] != "http" or any(
            origin_of(proxy)[0] != "http" for proxy in self._proxies(url).values()
        )
        key = (kind, tls, self.trust.key_for(index, url))
        with self._lock:
            found = self._sessions.get(key)
            if found is None:
                context = self.trust.context(key[2]) if tls else None
                found = (
                    page_session(self.settings, self.http_dir, context, self.sealer, self.warn)
                    if kind == "pages"
                    else plain_session(self.settings, context)
                )
                self._sessions[key] = found
            return found

    def close(self) -> None:
        """Close every session."""
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()

    def may_authenticate(self, index: Index, url: str) -> bool:
        """Whether a request to ``url`` may carry ``index``'s credential."""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == index.origin:
            return True
        return host in index.file_hosts and scheme == "https"

    def _credential(self, index: Index, url: str, *, challenged: bool) -> Credential | None:
        if self.credentials is None or not self.may_authenticate(index, url):
            return None
        if challenged:
            return self.credentials.after_challenge(index)
        return self.credentials.for_request(index)

    def _looked_in(self, index: Index) -> list[str]:
        return self.credentials.looked_in(index) if self.credentials is not None else []

    def get(
        self,
        kind: str,
        index: Index,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        same_origin_only: bool = False,
    ) -> requests.Response:
        """GET ``url`` for ``index``; 404 is returned, other failures raise a SpipError."""
        current = url
        challenged = False
        for _hop in range(MAX_REDIRECTS + 2):
            request_headers = dict(headers or {})
            credential = self._credential(index, current, challenged=challenged)
            if credential is not None:
                request_headers["Authorization"] = credential.basic_header()
            session = self.session(kind, index, current)
            response = self._send(session, index, current, request_headers, stream, what)
            if self.trace is not None:
                self.trace(self._decision(index, current, what, credential, response))
            if response.is_redirect:
                target = urljoin(current, response.headers.get("Location", ""))
                response.close()
                self._check_redirect(index, current, target, what, same_origin_only)
                current = target
                continue
            if response.status_code == 401 and credential is None and not challenged:
                # The index asks: look up what is stored for its own origin, try once more.
                challenged = True
                if self._credential(index, current, challenged=True) is not None:
                    response.close()
                    continue
            if response.status_code in (401, 403):
                response.close()
                raise auth_error(
                    index, response.status_code, credential, what, self._looked_in(index)
                )
            if response.status_code >= 400 and response.status_code != 404:
                response.close()
                raise IndexError_(
                    f"index {index.name} ({index.redacted}) answered HTTP "
                    f"{response.status_code} for {what}",
                    hint="the index is failing; spip retried server errors "
                    f"{self.settings.retries} times",
                )
            return response
        raise IndexError_(f"index {index.name} redirected too many times for {what}")

    def _decision(
        self,
        index: Index,
        url: str,
        what: str,
        credential: Credential | None,
        response: requests.Response,
    ) -> str:
        """One line for ``-vv``: the request, its index, the credential's source, the answer."""
        if credential is not None:
            found = " ".join(x for x in (credential.source, credential.where) if x)
            sent = f"credential of {index.name} ({found or 'the source map'})"
        elif self.may_authenticate(index, url):
            sent = "no credential"
        else:
            sent = "no credential (not this index's origin)"
        proxy = self._proxies(url).get(origin_of(url)[0])
        via = f", via proxy {RedactedUrl(proxy)}" if proxy else ""
        cached = ", from the HTTP cache" if getattr(response, "from_cache", False) else ""
        answer = f"HTTP {response.status_code}"
        if response.is_redirect:
            answer += f" to {RedactedUrl(urljoin(url, response.headers.get('Location', '')))}"
        return f"GET {RedactedUrl(url)} [{what}, index {index.name}]: {sent}{via}; {answer}{cached}"

    def _send(
        self,
        session: requests.Session,
        index: Index,
        url: str,
        headers: dict[str, str],
        stream: bool,
        what: str,
    ) -> requests.Response:
        try:
            self.count += 1
            return session.get(
                url,
                headers=headers,
                stream=stream,
                allow_redirects=False,
                proxies=self._proxies(url),
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                verify=True,
            )
        except requests.exceptions.SSLError as exc:
            raise tls_error(index, url, what, str(exc), self.trust.settings) from None
        except requests.RequestException as exc:
            raise IndexError_(
                f"index {index.name} ({index.redacted}) unreachable while fetching {what}: "
                f"{type(exc).__name__}",
                hint="check the URL in the source map and your network; spip retried "
                f"{self.settings.retries} times",
            ) from None

    def _proxies(self, url: str) -> dict[str, str]:
        """``--proxy`` for everything, else HTTP(S)_PROXY / NO_PROXY decided per origin
        (NO_PROXY matches a host and port; the answer is kept for the process)."""
        if self.settings.proxy:
            return {"http": self.settings.proxy, "https": self.settings.proxy}
        if self.settings.no_proxy_env:
            return {}
        origin = origin_of(url)
        found = self._proxy_for.get(origin)
        if found is None:
            found = dict(requests.utils.get_environ_proxies(url, no_proxy=None))
            self._proxy_for[origin] = found
        return dict(found)

    def _check_redirect(
        self, index: Index, current: str, target: str, what: str, same_origin_only: bool
    ) -> None:
        if origin_of(current)[0] == "https" and origin_of(target)[0] != "https":
            raise IntegrityError(
                f"index {index.name} redirected {what} from https to {RedactedUrl(target)}; refused"
            )
        if (
            same_origin_only
            and origin_of(target) != index.origin
            and origin_of(target)[1] not in index.file_hosts
        ):
            # A project page must come from the index itself: an index that sends unknown
            # names elsewhere would hand a private name to a public index.
            raise ForwardingError(
                f"index {index.name} ({index.redacted}) forwards names it does not serve: it "
                f"redirected the {what} to another origin ({RedactedUrl(target)}); refused",
                hint="a project page must come from its assigned index; route the name to the "
                "index that really publishes it with an exact rule under [packages]",
                index=str(index.name),
            )


def bounded_body(response: requests.Response, index: Index, what: str, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes (hostile or broken indexes)."""
    chunks = []
    size = 0
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > limit:
                raise IntegrityError(
                    f"index {index.name} ({index.redacted}) sent more than "
                    f"{limit // (1024 * 1024)} MiB for the {what}; refused",
                    hint="the index is broken or hostile",
                )
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise IndexError_(
            f"index {index.name} ({index.redacted}) failed while sending the {what}: "
            f"{type(exc).__name__}",
            hint="the index or network failed mid-transfer; run again",
        ) from None
    return b"".join(chunks)
