"""What pip itself is configured with, read without running pip and without touching os.environ.

spip never spells a public index's host name: when a source map names no default index, the
default is whatever pip would use — its configuration files (in pip's load order: global,
user, site, ``PIP_CONFIG_FILE``), then ``PIP_*`` variables, else pip's built-in default (read
from pip).  Every setting keeps where it came from, so ``spip init`` and error messages can say.
Extra indexes and find-links are *never* merged into routing: they are reported as ignored.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipx_secure.errors import InputError

#: pip's sections whose index settings apply to ``pip install``.
_SECTIONS = ("global", "install", "download", "wheel")
_INDEX_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "cert", "client-cert")


@dataclass(frozen=True)
class PipSetting:
    """One setting pip would use: its key, its value, and the file or variable it came from."""

    key: str
    value: str
    origin: str


@dataclass(frozen=True)
class PipIndexConfig:
    """pip's configured primary index, and the settings spip deliberately ignores."""

    index_url: str
    ignored: tuple[str, ...]
    index_origin: str = "pip's built-in default"
    settings: tuple[PipSetting, ...] = ()

    def values(self, key: str) -> list[tuple[str, str]]:
        """Every (value, origin) of a list-valued key such as ``extra-index-url``."""
        found = []
        for setting in self.settings:
            if setting.key == key:
                found += [(item, setting.origin) for item in setting.value.split()]
        return found

    def last(self, key: str) -> PipSetting | None:
        """The value pip uses for a single-valued key (the last one read wins)."""
        matches = [s for s in self.settings if s.key == key]
        return matches[-1] if matches else None


def builtin_index_url() -> str:
    """pip's built-in default index (the public one), read from pip."""
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url)


def config_files(environ: Mapping[str, str], *, prefix: str = sys.prefix) -> list[Path]:
    """pip's configuration files in its load order (later files override earlier ones)."""
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    explicit = environ.get("PIP_CONFIG_FILE")
    files: list[Path] = []
    if sys.platform == "win32":  # pragma: no cover - spip's CI runs on Linux
        program_data = environ.get("PROGRAMDATA", r"C:\ProgramData")
        files.append(Path(program_data) / "pip" / "pip.ini")
        user = [home / "pip" / "pip.ini", Path(environ.get("APPDATA", home)) / "pip" / "pip.ini"]
        name = "pip.ini"
    elif sys.platform == "darwin":  # pragma: no cover
        files.append(Path("/Library/Application Support/pip/pip.conf"))
        user = [home / ".pip" / "pip.conf", home / "Library/Application Support/pip/pip.conf"]
        name = "pip.conf"
    else:
        dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        files += [Path(d) / "pip" / "pip.conf" for d in dirs.split(os.pathsep) if d]
        files.append(Path("/etc/pip.conf"))
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        user = [home / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
        name = "pip.conf"
    if not (explicit and os.path.exists(explicit)):
        files += user
    files.append(Path(prefix) / name)
    if explicit:
        files.append(Path(explicit))
    return files


def parse_config_text(text: str, origin: str) -> list[PipSetting]:
    """The index settings of one pip configuration file (pure); malformed files are skipped."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as exc:
        raise config_error(exc, origin) from None
    found = []
    for section in parser.sections():
        if section not in _SECTIONS:
            continue
        for raw_key, value in parser.items(section):
            key = raw_key.lower().replace("_", "-").lstrip("-")
            if key in _INDEX_KEYS and value.strip():
                found.append(PipSetting(key, value.strip(), f"{origin} [{section}]"))
    return found


def config_error(exc: configparser.Error, origin: str) -> InputError:
    """A malformed INI file (pip's configuration, ``.pypirc``), named with its line."""
    line = getattr(exc, "lineno", None)
    errors = getattr(exc, "errors", None)
    if line is None and errors:
        line = errors[0][0]
    where = f"{origin}:{line}" if line else origin
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(
        f"not a valid configuration file: {detail}",
        location=where,
        hint="fix the file (pip refuses it too)",
    )


def environment_settings(environ: Mapping[str, str]) -> list[PipSetting]:
    """Index settings given by ``PIP_*`` variables (pip reads these after its files)."""
    found = []
    for key in _INDEX_KEYS:
        variable = "PIP_" + key.upper().replace("-", "_")
        value = environ.get(variable, "").strip()
        if value:
            found.append(PipSetting(key, value, variable))
    return found


def index_config(settings: Sequence[PipSetting]) -> PipIndexConfig:
    """pip's primary index and the ignored settings, from settings in pip's order (pure)."""
    index_url, origin = builtin_index_url(), "pip's built-in default"
    ignored: set[str] = set()
    for setting in settings:
        if setting.key == "index-url" and setting.value.split():
            index_url, origin = setting.value.split()[0], setting.origin
        elif setting.key in ("extra-index-url", "find-links"):
            ignored.add(setting.key)
    return PipIndexConfig(index_url, tuple(sorted(ignored)), origin, tuple(settings))


def read_pip_index_config(environ: Mapping[str, str] | None = None) -> PipIndexConfig:
    """Read pip's index settings from its configuration files and ``environ`` (default: ours)."""
    env = os.environ if environ is None else environ
    settings: list[PipSetting] = []
    for path in config_files(env):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        settings += parse_config_text(text, str(path))
    settings += environment_settings(env)
    return index_config(settings)
