"""Every index a user has configured, wherever pip's habits put it (parsed purely).

One parser per source, each reading the source's own format: pip's configuration (INI, as pip
reads it), ``PIP_*`` variables, ``.env`` files (python-dotenv's parser; nothing is loaded into
the environment), ``.pypirc`` (configparser), netrc (the standard library), index options in
requirement files, ``[tool.uv.index]`` / ``[[tool.poetry.source]]`` / ``[[tool.pdm.source]]``
in ``pyproject.toml``, and ``--index-url`` in a Makefile.  Each finding keeps where it was
found; a password found in a URL is split off (it never appears in a finding's URL or repr).
A malformed source becomes a :class:`Problem` naming its file and line.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pipx_secure.config.pipconfig import PipSetting
from pipx_secure.model.redact import strip_userinfo

#: Variables of ``.env`` files and the environment that name indexes, and their pip role.
ENV_INDEX_KEYS = {
    "PIP_INDEX_URL": "index-url",
    "PIP_EXTRA_INDEX_URL": "extra-index-url",
    "PIP_FIND_LINKS": "find-links",
    "UV_INDEX_URL": "index-url",
    "UV_DEFAULT_INDEX": "index-url",
    "UV_EXTRA_INDEX_URL": "extra-index-url",
    "UV_INDEX": "extra-index-url",
}
_ENV_SETTINGS = {"PIP_TRUSTED_HOST": "trusted-host", "PIP_CERT": "cert"}
_OPTION_ROLES = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
    "--trusted-host": "trusted-host",
}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class FoundIndex:
    """An index found in a source; ``url`` carries no password."""

    url: str
    where: str
    role: str  # index-url, extra-index-url, find-links, upload (a .pypirc repository), ...
    name: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    file: str | None = None  # the file that holds the password, for --rewrite

    @property
    def primary(self) -> bool:
        """Whether the source makes it the main index (pip's index-url and its peers)."""
        return self.role == "index-url"


@dataclass(frozen=True)
class FoundSetting:
    """A TLS setting found in a source (``trusted-host``, ``cert``)."""

    key: str
    value: str
    where: str


@dataclass(frozen=True)
class NetrcEntry:
    """A netrc machine with a password."""

    machine: str
    login: str
    password: str = field(repr=False)
    where: str = ""


@dataclass(frozen=True)
class Problem:
    """A source that could not be read: where, and why."""

    where: str
    message: str


@dataclass(frozen=True)
class Found:
    """What one source contributed."""

    indexes: tuple[FoundIndex, ...] = ()
    settings: tuple[FoundSetting, ...] = ()
    names: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()


def split_url(
    value: str, where: str, role: str, *, name: str | None = None, file: str | None = None
) -> FoundIndex | None:
    """A URL as a finding, its ``user:password@`` split off (None if it is not a URL)."""
    value = value.strip().strip("'\"")
    if not _URL.match(value):
        return None
    try:
        parts = urlsplit(value)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
    except ValueError:
        return None
    return FoundIndex(strip_userinfo(value), where, role, name, username, password, file)


def _urls(value: str, where: str, role: str, file: str | None = None) -> list[FoundIndex]:
    found = [split_url(item, where, role, file=file) for item in value.split()]
    return [f for f in found if f is not None]


def from_pip_settings(settings: Sequence[PipSetting]) -> Found:
    """Indexes and TLS settings from pip's configuration files and ``PIP_*`` variables."""
    indexes: list[FoundIndex] = []
    others: list[FoundSetting] = []
    for setting in settings:
        file = setting.origin.rsplit(" [", 1)[0] if not setting.origin.startswith("PIP_") else None
        if setting.key in ("index-url", "extra-index-url", "find-links"):
            indexes += _urls(setting.value, setting.origin, setting.key, file)
        elif setting.key in ("trusted-host", "cert"):
            others += [FoundSetting(setting.key, v, setting.origin) for v in setting.value.split()]
    return Found(tuple(indexes), tuple(others))


def from_dotenv(text: str, origin: str) -> Found:
    """Index variables of a ``.env`` file (python-dotenv's parser; nothing is loaded)."""
    from dotenv.parser import parse_stream

    indexes: list[FoundIndex] = []
    settings: list[FoundSetting] = []
    problems: list[Problem] = []
    for binding in parse_stream(io.StringIO(text)):
        where = f"{origin}:{binding.original.line}"
        if binding.error:
            problems.append(Problem(where, "not a KEY=VALUE line"))
            continue
        if binding.key is None or binding.value is None:
            continue
        role = ENV_INDEX_KEYS.get(binding.key)
        if role is not None:
            values = [v.split("=", 1)[-1] for v in binding.value.split()]  # UV_INDEX: name=url
            indexes += _urls(" ".join(values), f"{where} {binding.key}", role, origin)
        elif binding.key in _ENV_SETTINGS:
            settings.append(FoundSetting(_ENV_SETTINGS[binding.key], binding.value, where))
    return Found(tuple(indexes), tuple(settings), problems=tuple(problems))


def from_pypirc(text: str, origin: str) -> Found:
    """Repositories of a ``.pypirc`` with their username and password (configparser)."""
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        return Found(
            problems=(Problem(f"{origin}:{line}" if line else origin, str(exc).splitlines()[0]),)
        )
    indexes = []
    for section in parser.sections():
        repository = parser.get(section, "repository", fallback="")
        if section == "distutils" or not repository:
            continue
        found = split_url(repository, f"{origin} [{section}]", "upload", name=section, file=origin)
        if found is None:
            continue
        user = parser.get(section, "username", fallback=None) or found.username
        password = parser.get(section, "password", fallback=None) or found.password
        indexes.append(
            FoundIndex(found.url, found.where, "upload", section, user, password, origin)
        )
    return Found(tuple(indexes))


def from_netrc(path: str) -> tuple[tuple[NetrcEntry, ...], tuple[Problem, ...]]:
    """The machines of a netrc file that carry a password (the standard library's parser)."""
    import netrc

    try:
        data = netrc.netrc(path)
    except FileNotFoundError:
        return (), ()
    except netrc.NetrcParseError as exc:
        return (), (Problem(f"{exc.filename}:{exc.lineno}", exc.msg),)
    except OSError as exc:
        return (), (Problem(path, exc.strerror or type(exc).__name__),)
    entries = []
    for machine, (login, _account, password) in sorted(data.hosts.items()):
        if password:
            entries.append(NetrcEntry(machine, login or "", password, f"{path} machine {machine}"))
    return tuple(entries), ()


def _requirement_name(text: str) -> str | None:
    try:
        return canonicalize_name(Requirement(text.split(" --", 1)[0].strip()).name)
    except InvalidRequirement:
        return None


def from_requirement_text(text: str, origin: str) -> Found:
    """Index options and requirement names of a requirement file (nothing is refused here)."""
    indexes: list[FoundIndex] = []
    settings: list[FoundSetting] = []
    names: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if not line.startswith("-"):
            name = _requirement_name(line)
            if name:
                names.append(name)
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            continue
        for position, token in enumerate(tokens):
            option, _, inline = token.partition("=")
            role = _OPTION_ROLES.get(option)
            value = inline or (tokens[position + 1] if position + 1 < len(tokens) else "")
            where = f"{origin}:{number} {option}"
            if role == "trusted-host":
                settings.append(FoundSetting(role, value, where))
            elif role is not None:
                indexes += _urls(value, where, role, origin)
    return Found(tuple(indexes), tuple(settings), tuple(names))


def _tables(data: Any, *path: str) -> list[Mapping[str, Any]]:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    if isinstance(data, Mapping):
        return [data]
    return [t for t in data if isinstance(t, Mapping)] if isinstance(data, list) else []


def _table(data: Any, key: str) -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _dependency_names(data: Mapping[str, Any]) -> list[str]:
    project = _table(data, "project")
    strings = _list(project.get("dependencies"))
    for extra in _table(project, "optional-dependencies").values():
        strings += _list(extra)
    for group in _table(data, "dependency-groups").values():  # PEP 735
        strings += _list(group)
    names = [_requirement_name(s) for s in strings if isinstance(s, str)]
    poetry = _table(_table(data, "tool"), "poetry")
    names += [canonicalize_name(n) for n in _table(poetry, "dependencies") if n != "python"]
    return [n for n in names if n]


def from_pyproject(data: Mapping[str, Any], origin: str) -> Found:
    """uv, Poetry and PDM index tables, and the project's dependency names."""
    indexes: list[FoundIndex] = []
    for tool, key in (("uv", "index"), ("poetry", "source"), ("pdm", "source")):
        for position, table in enumerate(_tables(data, "tool", tool, key)):
            url = table.get("url")
            if not isinstance(url, str):
                continue
            primary = table.get("default") is True or table.get("priority") in (
                "primary",
                "default",
            )
            where = f"{origin} [tool.{tool}.{key}][{position}]"
            name = table.get("name") if isinstance(table.get("name"), str) else None
            found = split_url(
                url, where, "index-url" if primary else "extra-index-url", name=name, file=origin
            )
            if found is not None:
                indexes.append(found)
    return Found(tuple(indexes), names=tuple(_dependency_names(data)))


def from_makefile(text: str, origin: str) -> Found:
    """``--index-url``/``--extra-index-url``/``-i`` URLs written in a Makefile."""
    indexes: list[FoundIndex] = []
    pattern = re.compile(r"(?:^|\s)(-i|--index-url|--extra-index-url)[=\s]+(\S+)")
    for number, line in enumerate(text.splitlines(), 1):
        for option, value in pattern.findall(line):
            where = f"{origin}:{number} {option}"
            indexes += _urls(value, where, _OPTION_ROLES[option], origin)
    return Found(tuple(indexes))


def from_lock(data: Mapping[str, Any]) -> Found:
    """The package names of a PEP 751 lock."""
    packages = data.get("packages") if isinstance(data, Mapping) else None
    names = [
        canonicalize_name(p["name"])
        for p in packages or []
        if isinstance(p, Mapping) and isinstance(p.get("name"), str)
    ]
    return Found(names=tuple(names))


def merge(found: Iterable[Found]) -> Found:
    """Everything found, in order."""
    items = list(found)
    return Found(
        tuple(i for f in items for i in f.indexes),
        tuple(s for f in items for s in f.settings),
        tuple(dict.fromkeys(n for f in items for n in f.names)),
        tuple(p for f in items for p in f.problems),
    )


@dataclass(frozen=True)
class Discovery:
    """Everything ``spip init`` found about a user's index set-up."""

    found: Found
    netrc: tuple[NetrcEntry, ...]
    requirement_files: tuple[str, ...]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _toml(path: Path, problems: list[Problem]) -> Mapping[str, Any]:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    text = _read(path)
    if text is None:
        return {}
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(str(path), f"invalid TOML: {exc}"))
        return {}


def _pip_sources(environ: Mapping[str, str], problems: list[Problem]) -> Found:
    from pipx_secure.config.pipconfig import config_files, environment_settings, parse_config_text
    from pipx_secure.errors import InputError

    settings: list[PipSetting] = []
    for path in config_files(environ):
        text = _read(path)
        if text is None:
            continue
        try:
            settings += parse_config_text(text, str(path))
        except InputError as exc:
            problems.append(Problem(exc.location or str(path), exc.message))
    settings += environment_settings(environ)
    for variable, key in _ENV_SETTINGS.items():
        if environ.get(variable) and key == "trusted-host":
            settings.append(PipSetting(key, environ[variable], variable))
    return from_pip_settings(settings)


def discover(project: Path, environ: Mapping[str, str]) -> Discovery:
    """Read every source of index settings for ``project`` and the user's home."""
    home = Path(environ.get("HOME") or Path.home())
    problems: list[Problem] = []
    parts = [_pip_sources(environ, problems)]
    for path in sorted(project.glob(".env*")):
        text = _read(path) if path.is_file() else None
        if text is not None:
            parts.append(from_dotenv(text, str(path)))
    pypirc = _read(home / ".pypirc")
    if pypirc is not None:
        parts.append(from_pypirc(pypirc, str(home / ".pypirc")))
    requirement_files = sorted(
        {*project.glob("requirements*.txt"), *project.glob("requirements/*.txt")}
    )
    for path in requirement_files:
        text = _read(path)
        if text is not None:
            parts.append(from_requirement_text(text, str(path)))
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        parts.append(from_pyproject(_toml(pyproject, problems), str(pyproject)))
    for lock in sorted(project.glob("pylock*.toml")):
        parts.append(from_lock(_toml(lock, problems)))
    makefile = _read(project / "Makefile")
    if makefile is not None:
        parts.append(from_makefile(makefile, str(project / "Makefile")))
    netrc_path = environ.get("NETRC") or str(home / ".netrc")
    netrc_entries, netrc_problems = from_netrc(netrc_path)
    merged = merge([*parts, Found(problems=(*problems, *netrc_problems))])
    return Discovery(merged, netrc_entries, tuple(str(p) for p in requirement_files))
