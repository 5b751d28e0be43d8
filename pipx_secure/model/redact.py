"""The one type through which every URL that may be displayed passes.

``RedactedUrl`` keeps the real URL for the code that needs it (``.secret_url``) and renders
without any password or token: ``https://user:****@host/simple/``.  Logging, errors and
reports call ``str()`` on it and so can never show a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

_MASK = "****"


def _redacted(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        # A lone user part may itself be a token (``https://TOKEN@host``): mask it too when
        # there is no password, since tokens are commonly passed that way.
        shown_user = user if sep else _MASK
        netloc = f"{shown_user}:{_MASK}@{host}" if sep else f"{shown_user}@{host}"
    query = parts.query
    if query:
        pairs = []
        for pair in query.split("&"):
            key, eq, _value = pair.partition("=")
            lowered = key.lower()
            if eq and any(w in lowered for w in ("token", "key", "secret", "password", "sig")):
                pairs.append(f"{key}={_MASK}")
            else:
                pairs.append(pair)
        query = "&".join(pairs)
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class RedactedUrl:
    """A URL that renders without secrets; ``secret_url`` is the real one."""

    secret_url: str = field(repr=False)

    def __str__(self) -> str:
        return _redacted(self.secret_url)

    def __repr__(self) -> str:
        return f"RedactedUrl({_redacted(self.secret_url)!r})"

    @property
    def host(self) -> str:
        """The host name, lower-cased (no port)."""
        return (urlsplit(self.secret_url).hostname or "").lower()

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """(scheme, host, port) with the scheme's default port made explicit."""
        return origin_of(self.secret_url)


def origin_of(url: str) -> tuple[str, str, int | None]:
    """The origin of ``url`` as (scheme, host, port), default ports filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


_USERINFO_IN_TEXT = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)([^/@\s:]*)(:[^/@\s]*)?@")


def redact_text(text: str) -> str:
    """Mask the password (or lone token) of every URL inside free text."""

    def mask(match: re.Match[str]) -> str:
        scheme, user, password = match.group(1), match.group(2), match.group(3)
        return f"{scheme}{user}:{_MASK}@" if password else f"{scheme}{_MASK}@"

    return _USERINFO_IN_TEXT.sub(mask, text)


def redact(url: str) -> str:
    """Render ``url`` for display, without any secret."""
    return str(RedactedUrl(url))


def strip_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, parts.query, parts.fragment))
