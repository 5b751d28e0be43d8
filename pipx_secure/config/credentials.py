"""Credentials per index, looked up at request time, held in memory only, scoped to an origin.

Where a credential for an index comes from, in order (the README has the table):

1. ``SPIP_INDEX_<NAME>_PASSWORD`` (and ``_USERNAME``): explicit for that index, always used;
2. for the default index that comes from pip's configuration: the ``user:password@`` pip's own
   ``index-url`` carries (pip would send it too);
3. keyring, looked up as pip does: the index URL, then its netloc — ``host:port``, or the bare
   host only when the index is on its scheme's default port (a bare host names one origin only
   then).  With no username in the map the look-up is username-less
   (``keyring.get_credential(service, None)``);
4. netrc: a ``machine host:port`` entry, or a bare ``machine host`` for an index on its scheme's
   default port; never for another port.

*When* a credential is sent depends on :attr:`~pipx_secure.model.sourcemap.Index.auth`: an index
whose map entry names a username gets it from the first request; another index only after a 401
from its own origin; the default index without a username never (the environment aside).  The
username comes from ``SPIP_INDEX_<NAME>_USERNAME``, the map, keyring, netrc, in that order.  A
:class:`Credential` never renders its password.
"""

from __future__ import annotations

import base64
import netrc
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipx_secure.model.maptoml import PIP_CONFIGURATION
from pipx_secure.model.redact import origin_of
from pipx_secure.model.sourcemap import AuthMode, Index, IndexName

KeyringLookup = Callable[[str, "str | None"], "tuple[str, str] | None"]
PipIndexUrl = Callable[[], "str | None"]


@dataclass(frozen=True)
class Credential:
    """A username and password for one index, and where each came from."""

    username: str
    password: str = field(repr=False)
    source: str = ""  # environment, pip configuration, keyring, netrc
    where: str = ""  # the variable, keyring service, or netrc entry it was found under
    username_from: str = ""

    def __str__(self) -> str:
        return f"{self.username}:**** (from {self.source})"

    def basic_header(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


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


def keyring_services(index: Index) -> tuple[str, ...]:
    """The keyring services looked up for ``index``, in pip's order."""
    services = [index.url, index.url.rstrip("/"), index.netloc]
    return tuple(dict.fromkeys(services))


def netrc_machines(index: Index) -> tuple[str, ...]:
    """The netrc ``machine`` names that identify ``index``'s origin unambiguously."""
    _scheme, host, port = index.origin
    machines = [f"{host}:{port}"]
    if index.default_port:
        machines.append(host)
    return tuple(machines)


class CredentialStore:
    """Looks up and memoizes credentials per index, thread-safely."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        keyring_lookup: KeyringLookup | None = None,
        netrc_path: Path | None = None,
        use_keyring: bool = True,
        pip_index_url: PipIndexUrl | None = None,
        given: Mapping[str, Credential] | None = None,
    ) -> None:
        import os

        self._environ = dict(os.environ if environ is None else environ)
        self._keyring = keyring_lookup or _keyring_lookup
        self._use_keyring = use_keyring
        home = Path(self._environ.get("HOME") or os.path.expanduser("~"))
        self._netrc_path = netrc_path or Path(self._environ.get("NETRC") or home / ".netrc")
        self._pip_index_url = pip_index_url or self._read_pip_index_url
        self._given = dict(given or {})  # by index URL: credentials spip init found
        self._found: dict[tuple[IndexName, str, bool], Credential | None] = {}
        self._challenged: set[tuple[IndexName, str]] = set()
        self._lock = threading.Lock()

    # -- what the transport asks ------------------------------------------------------------
    def for_request(self, index: Index) -> Credential | None:
        """The credential to send with a request to ``index`` (before any 401)."""
        with self._lock:
            challenged = (index.name, index.url) in self._challenged
        return self._memo(index, challenged)

    def after_challenge(self, index: Index) -> Credential | None:
        """The credential to retry with after a 401 from ``index``'s own origin."""
        if index.auth is AuthMode.NEVER:
            return None
        with self._lock:
            self._challenged.add((index.name, index.url))
        return self._memo(index, True)

    def for_index(self, index: Index) -> Credential | None:
        """Whatever credential ``index`` would get, challenged or not (``spip auth check``)."""
        return self._memo(index, index.auth is not AuthMode.NEVER)

    def secrets(self) -> tuple[str, ...]:
        """Every password known so far, and each credential's Basic token.

        Passwords in ``SPIP_INDEX_*_PASSWORD`` count from the start, so even the first child
        process never inherits a variable that holds one.  These are scrubbed from child
        environments and from everything spip prints.
        """
        with self._lock:
            found = [c for c in self._found.values() if c is not None]
        secrets = {
            value
            for key, value in self._environ.items()
            if key.startswith("SPIP_INDEX_") and key.endswith("_PASSWORD") and value
        }
        for credential in found:
            secrets.add(credential.password)
            secrets.add(credential.basic_header().split(" ", 1)[1])
        return tuple(sorted(secrets))

    def looked_in(self, index: Index) -> list[str]:
        """Every place a credential for ``index`` is looked for (for error hints)."""
        places = [f"{index.env_prefix}_PASSWORD"]
        if index.auth is not AuthMode.NEVER:
            places += [f"keyring service {s!r}" for s in keyring_services(index)]
            places += [f"{self._netrc_path} machine {m}" for m in netrc_machines(index)]
        return places

    # -- look-ups ---------------------------------------------------------------------------
    def _memo(self, index: Index, challenged: bool) -> Credential | None:
        key = (index.name, index.url, challenged)
        with self._lock:
            if key in self._found:
                return self._found[key]
        found = self._lookup(index, challenged)
        with self._lock:
            self._found[key] = found
        return found

    def _lookup(self, index: Index, challenged: bool) -> Credential | None:
        found = self._from_environment(index) or self._from_pip(index) or self._given.get(index.url)
        if found is not None:
            return found
        if index.auth is AuthMode.NEVER:
            return None
        if index.auth is AuthMode.ON_CHALLENGE and not challenged:
            return None
        username = self._environ.get(f"{index.env_prefix}_USERNAME") or index.username
        return self._from_keyring(index, username) or self._from_netrc(index, username)

    def _from_environment(self, index: Index) -> Credential | None:
        variable = f"{index.env_prefix}_PASSWORD"
        password = self._environ.get(variable)
        if not password:
            return None
        env_user = self._environ.get(f"{index.env_prefix}_USERNAME")
        if env_user:
            user, user_from = env_user, f"{index.env_prefix}_USERNAME"
        elif index.username:
            user, user_from = index.username, "the map"
        else:
            user, user_from = "__token__", "the token convention (no username was set)"
        return Credential(user, password, "environment", variable, user_from)

    def _from_pip(self, index: Index) -> Credential | None:
        """``user:password@`` in pip's index-url, for the default index taken from pip."""
        if index.location != PIP_CONFIGURATION:
            return None
        url = self._pip_index_url()
        parts = urlsplit(url or "")
        if not url or parts.password is None or origin_of(url) != index.origin:
            return None
        user = unquote(parts.username or "")
        return Credential(
            user, unquote(parts.password), "pip configuration", "pip's index-url", "pip's index-url"
        )

    def _read_pip_index_url(self) -> str | None:
        from pipx_secure.config.pipconfig import read_pip_index_config

        return read_pip_index_config(self._environ).index_url

    def _from_keyring(self, index: Index, username: str | None) -> Credential | None:
        if not self._use_keyring:
            return None
        for service in keyring_services(index):
            found = self._keyring(service, username)
            if found:
                user, password = found
                user_from = "the map" if username else "keyring"
                return Credential(
                    user or username or "", password, "keyring", f"service {service!r}", user_from
                )
        return None

    def _from_netrc(self, index: Index, username: str | None) -> Credential | None:
        try:
            data = netrc.netrc(str(self._netrc_path))
        except (FileNotFoundError, netrc.NetrcParseError, OSError):
            return None
        for machine in netrc_machines(index):
            entry = data.authenticators(machine)
            if not entry:
                continue
            login, _account, password = entry
            if not password:
                continue
            if username and login and login != username:
                continue  # another account on the same host
            where = f"{self._netrc_path} machine {machine}"
            user_from = "the map" if username else "netrc"
            return Credential(username or login or "", password, "netrc", where, user_from)
        return None
