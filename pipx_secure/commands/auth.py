"""``spip auth set|check|import-pypirc``: credentials in keyring, never on the command line.

The password for ``auth set`` is passed in by the CLI (read from a prompt that does not echo,
or from standard input); nothing here prints.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

from pipx_secure.commands.context import Services
from pipx_secure.errors import AuthError, InputError, SpipError, UsageError
from pipx_secure.fs import atomic_write
from pipx_secure.model.redact import origin_of, redact
from pipx_secure.model.sourcemap import Index, IndexName, SourceMap


@dataclass(frozen=True)
class AuthSettings:
    """``spip auth``'s arguments."""

    action: str
    index: str = ""
    map_path: Path | None = None
    username: str | None = None
    pypirc: Path = Path("~/.pypirc")
    remove: bool = False


@dataclass(frozen=True)
class AuthResult:
    """What an auth action found or did: lines for stdout, notes for stderr, exit code."""

    lines: tuple[str, ...]
    notes: tuple[str, ...] = ()
    exit_code: int = 0
    secrets: tuple[str, ...] = field(default=(), repr=False)


def index_named(settings: AuthSettings, services: Services) -> Index:
    """The map's index called ``settings.index``."""
    source_map = services.load_map(settings.map_path)
    name = IndexName(settings.index)
    if name not in source_map.indexes:
        raise UsageError(
            f"no index named {settings.index!r} in {source_map.origin}",
            hint="known indexes: " + ", ".join(sorted(source_map.indexes)),
        )
    return source_map.indexes[name]


def store(settings: AuthSettings, services: Services, password: str) -> AuthResult:
    """``spip auth set``: store ``password`` in keyring under the index URL."""
    import keyring

    index = index_named(settings, services)
    username = settings.username or index.username
    if not username:
        raise UsageError(
            f"index {index.name} has no username",
            hint="pass --username, or set `username` for the index in the map",
        )
    if not password:
        raise UsageError("empty password; nothing stored")
    keyring.set_password(index.url, username, password)
    return AuthResult(
        (
            f"stored the password of {username} for index {index.name} in keyring "
            f"(service {index.redacted})",
        )
    )


def username_for(settings: AuthSettings, services: Services) -> tuple[Index, str | None]:
    """The index and the username a prompt should name."""
    index = index_named(settings, services)
    return index, settings.username or index.username


def check(settings: AuthSettings, services: Services) -> AuthResult:
    """``spip auth check``: try the index root; say which credential worked or why not."""
    index = index_named(settings, services)
    transport = services.transport(http_cache=False)
    try:
        transport.check_access(index)
    except AuthError as exc:
        if services.credentials.for_index(index) is None:
            places = ", ".join(services.credentials.looked_in(index))
            line = (
                f"{index.name}: no credential found (looked in: {places}); the index "
                "requires credentials"
            )
        else:
            line = f"{index.name}: refused ({exc.message}; {exc.hint})"
        return AuthResult((line,), exit_code=exc.exit_code)
    finally:
        transport.close()
    used = services.credentials.for_request(index)
    if used is None:
        return AuthResult((f"{index.name}: ok (no credential needed)",))
    return AuthResult((f"{index.name}: ok ({used.source}) {used.where}, user {used.username!r}",))


def _read_pypirc(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        if not parser.read(path, encoding="utf-8"):
            raise InputError("no such file", location=str(path), hint="pass --file PATH")
    except configparser.Error as exc:
        raise InputError(
            f"not a valid .pypirc: {exc}".splitlines()[0], location=str(path)
        ) from None
    return parser


def _map_or_none(settings: AuthSettings, services: Services) -> SourceMap | None:
    try:
        return services.load_map(settings.map_path)
    except SpipError:
        return None


def matching_index(repository: str, source_map: SourceMap | None) -> Index | None:
    """The map's index on the same origin as a ``.pypirc`` repository URL, if exactly one."""
    if source_map is None:
        return None
    same = [i for i in source_map.indexes.values() if i.origin == origin_of(repository)]
    return same[0] if len(same) == 1 else None


def import_pypirc(settings: AuthSettings, services: Services) -> AuthResult:
    """Move each password of a ``.pypirc`` into keyring, where the map's index will look."""
    import keyring

    path = settings.pypirc.expanduser()
    parser = _read_pypirc(path)
    source_map = _map_or_none(settings, services)
    lines: list[str] = []
    notes: list[str] = []
    secrets: list[str] = []
    moved = []
    for section in parser.sections():
        if section == "distutils" or not parser.has_option(section, "password"):
            continue
        username = parser.get(section, "username", fallback="__token__")
        repository = parser.get(section, "repository", fallback="")
        if not repository:
            notes.append(
                f"[{section}] has no repository URL; skipped (it names the public upload "
                "service, which spip never needs)"
            )
            continue
        password = parser.get(section, "password")
        secrets.append(password)
        index = matching_index(repository, source_map)
        service = index.url if index is not None else repository
        keyring.set_password(service, username, password)
        moved.append(section)
        if index is not None:
            lines.append(
                f"stored the password of {username} for index {index.name} in keyring "
                f"(service {redact(service)})"
            )
        else:
            lines += [
                f"stored the password of {username} for {redact(repository)} in keyring; "
                "no index of the map has that origin. Add (with the index's Simple API URL, "
                "then `spip auth set` if it differs):",
                f'[indexes.{section}]\nurl = "{redact(repository)}"\nusername = "{username}"',
            ]
    if settings.remove and moved:
        for section in moved:
            parser.remove_option(section, "password")
        text = StringIO()
        parser.write(text)
        atomic_write(path, text.getvalue(), mode=0o600)
        lines.append(f"removed {len(moved)} password(s) from {path}")
    if not moved:
        lines.append(f"no passwords with a repository URL in {path}")
    return AuthResult(tuple(lines), tuple(notes), secrets=tuple(secrets))
