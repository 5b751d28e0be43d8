"""``spip auth set|check|import-pypirc``: credentials in keyring, never on the command line.

The password for ``auth set`` is passed in by the CLI (read from a prompt that does not echo,
or from standard input); nothing here prints.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

from pipx_secure.commands.context import Services
from pipx_secure.errors import AuthError, InputError, UsageError
from pipx_secure.fs import atomic_write
from pipx_secure.model.sourcemap import Index, IndexName


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
    """``spip auth check``: try the credential against the index root."""
    index = index_named(settings, services)
    credential = services.credentials.for_index(index)
    transport = services.transport(http_cache=False)
    try:
        transport.check_access(index)
    except AuthError as exc:
        return AuthResult((f"{index.name}: refused ({exc.message})",), exit_code=exc.exit_code)
    finally:
        transport.close()
    source = credential.source if credential else "no credential"
    return AuthResult((f"{index.name}: ok ({source})",))


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


def import_pypirc(settings: AuthSettings, services: Services) -> AuthResult:
    """Move each password of a ``.pypirc`` into keyring; print the map entries to add."""
    import keyring

    from pipx_secure.model.redact import redact

    path = settings.pypirc.expanduser()
    parser = _read_pypirc(path)
    moved = []
    notes = []
    secrets: list[str] = []
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
        keyring.set_password(repository, username, password)
        moved.append((section, repository, username))
    lines = [f"stored the password of {u} for {redact(r)} in keyring" for _s, r, u in moved]
    if moved:
        lines += [
            "",
            "Add to spip.toml (use each index's Simple API URL; an upload URL may differ, "
            "then store the password for that URL with `spip auth set`):",
        ]
        lines += [f'[indexes.{s}]\nurl = "{redact(r)}"\nusername = "{u}"' for s, r, u in moved]
    if settings.remove and moved:
        for section, _repository, _username in moved:
            parser.remove_option(section, "password")
        from io import StringIO

        text = StringIO()
        parser.write(text)
        atomic_write(path, text.getvalue(), mode=0o600)
        lines.append(f"removed {len(moved)} password(s) from {path}")
    if not moved:
        lines.append(f"no passwords with a repository URL in {path}")
    return AuthResult(tuple(lines), tuple(notes), secrets=tuple(secrets))
