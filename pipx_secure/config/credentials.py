"""Credentials per index, looked up at request time and held in memory only.

Order, for an index of the source map: environment variables
``SPIP_INDEX_<NAME>_USERNAME`` / ``SPIP_INDEX_<NAME>_PASSWORD``, then keyring
(``keyring.get_credential`` with the index URL, then with its host, as pip does), then netrc.
A :class:`Credential` never renders its password (``repr`` and ``str`` hide it), and the
credential is attached only to requests for its index's origin (see ``index_client``).
"""

from __future__ import annotations

import base64
import netrc
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipx_secure.model.sourcemap import Index, IndexName


@dataclass(frozen=True)
class Credential:
    """A username and password for one index; the password never renders."""

    username: str
    password: str = field(repr=False)
    source: str = ""

    def __str__(self) -> str:
        return f"{self.username}:**** (from {self.source})"

    def basic_header(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


KeyringLookup = Callable[[str, "str | None"], "tuple[str, str] | None"]


def _keyring_lookup(service: str, username: str | None) -> tuple[str, str] | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    try:
        credential = keyring.get_credential(service, username)
    except KeyringError:
        return None
    except Exception:  # a broken third-party backend must not crash an install
        return None
    if credential is None or credential.password is None:
        return None
    return str(credential.username or username or ""), str(credential.password)


def _netrc_lookup(host: str, path: Path | None) -> tuple[str, str] | None:
    try:
        data = netrc.netrc(str(path) if path else None)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return None
    found = data.authenticators(host)
    if not found:
        return None
    login, _account, password = found
    if not password:
        return None
    return login, password


class CredentialStore:
    """Looks up and memoizes one credential per index, thread-safely."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        keyring_lookup: KeyringLookup | None = None,
        netrc_path: Path | None = None,
        use_keyring: bool = True,
    ) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._keyring = keyring_lookup or _keyring_lookup
        self._use_keyring = use_keyring
        self._netrc_path = netrc_path or (
            Path(self._environ["NETRC"]) if self._environ.get("NETRC") else None
        )
        self._cache: dict[IndexName, Credential | None] = {}
        self._lock = threading.Lock()

    def for_index(self, index: Index) -> Credential | None:
        """The credential for ``index``, or None when none is configured anywhere."""
        with self._lock:
            if index.name not in self._cache:
                self._cache[index.name] = self._lookup(index)
            return self._cache[index.name]

    def secrets(self) -> tuple[str, ...]:
        """Every password looked up so far (used to scrub child environments)."""
        with self._lock:
            return tuple(c.password for c in self._cache.values() if c is not None)

    def _lookup(self, index: Index) -> Credential | None:
        prefix = index.env_prefix
        env_password = self._environ.get(f"{prefix}_PASSWORD")
        env_username = self._environ.get(f"{prefix}_USERNAME") or index.username
        if env_password:
            return Credential(env_username or "__token__", env_password, "environment")
        if self._use_keyring:
            for service in (index.url, index.url.rstrip("/"), index.redacted.host):
                found = self._keyring(service, index.username)
                if found:
                    user, password = found
                    return Credential(user or index.username or "", password, "keyring")
        found = _netrc_lookup(index.redacted.host, self._netrc_path)
        if found:
            user, password = found
            if index.username and user and user != index.username:
                return None
            return Credential(user or index.username or "", password, "netrc")
        return None
