"""The source map's TOML form, validated where it enters (pure).

:func:`parse_source_map` takes the map's table (already decoded from TOML) and returns a
:class:`~pipx_secure.model.sourcemap.SourceMap`.  Every value is read through a small typed
getter whose error names the file, the line and the key (``spip.toml:6 [indexes.b.url]``).
What pip is configured with is an input (``pip_default``), asked for only when the map names
no default index and is not strict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import SourceMapError
from pipx_secure.model.accept import AcceptRule, parse_accept
from pipx_secure.model.cooldown import parse_moment
from pipx_secure.model.redact import RedactedUrl, strip_userinfo
from pipx_secure.model.sourcemap import (
    DEFAULT_INDEX_NAME,
    Index,
    IndexName,
    Rule,
    RuleKind,
    SourceMap,
    normalize_pattern,
    quote_key,
)

#: (pip's index URL, pip settings spip ignores), asked for only when needed.
PipDefault = Callable[[], "tuple[str, tuple[str, ...]]"]

_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PATTERN_CHARS = re.compile(r"[*?\[]")
_NORMALIZED = re.compile(r"[a-z0-9-]+")
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_.-]+))\s*=""")
#: The location of the default index that comes from pip's own configuration.
PIP_CONFIGURATION = "pip configuration"
_TOP_KEYS = (
    "default",
    "strict",
    "indexes",
    "packages",
    "direct-urls",
    "environments",
    "audit",
    "install",
)
_INDEX_KEYS = ("url", "username", "ca-bundle", "client-cert", "file-hosts", "exclude-newer")


def _toml_path(header: str) -> str:
    parts = re.findall(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^."'\s]+))\s*(?:\.|$)""", header)
    return ".".join(next(p for p in group if p) for group in parts if any(group))


def line_index(text: str | None) -> dict[tuple[str, str], int]:
    """(table, key) -> first line number, in one pass over the file (errors name lines)."""
    found: dict[tuple[str, str], int] = {}
    if not text:
        return found
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            table = _toml_path(header.group(1))
            parent, _, last = table.rpartition(".")
            found.setdefault((parent, last), number)
            continue
        key = _KEY.match(line)
        if key:
            name = next(g for g in key.groups() if g is not None)
            found.setdefault((table, name), number)
    return found


class Locator:
    """Names ``file:line [table.key]`` for errors; the line index is built on first use."""

    def __init__(self, origin: str, text: str | None, prefix: str = "") -> None:
        self.origin = origin
        self._text = text
        self._prefix = prefix
        self._lines: dict[tuple[str, str], int] | None = None

    def where(self, key: str, table: str = "") -> str:
        """Where ``key`` of ``table`` (relative to the map's own table) is written."""
        if self._lines is None:
            self._lines = line_index(self._text)
        full = ".".join(p for p in (self._prefix, table) if p)
        line = self._lines.get((full, key))
        dotted = f"{full}.{quote_key(key)}" if full else quote_key(key)
        return f"{self.origin}:{line} [{dotted}]" if line else f"{self.origin} [{dotted}]"


@dataclass(frozen=True)
class Table:
    """A TOML table with typed getters; every error names ``file:line [table.key]``."""

    data: Mapping[str, Any]
    path: str
    locator: Locator

    def where(self, key: str) -> str:
        """Where ``key`` of this table is written."""
        return self.locator.where(key, self.path)

    def fail(self, key: str, message: str, hint: str | None = None) -> SourceMapError:
        """An error about ``key`` of this table."""
        return SourceMapError(message, location=self.where(key), hint=hint)

    def only(self, known: tuple[str, ...], what: str) -> None:
        """Refuse keys other than ``known``."""
        for key in self.data:
            if key not in known:
                raise self.fail(
                    key, f"unknown key {key!r}{what}", "known keys: " + ", ".join(known)
                )

    def string(self, key: str, what: str) -> str | None:
        """``key`` as a non-empty string, or None when absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"{what} must be a string")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """``key`` as true/false."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"{key!r} must be true or false")
        return value

    def strings(self, key: str, what: str, hint: str | None = None) -> tuple[str, ...]:
        """``key`` as a list of non-empty strings (empty when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, what, hint)
        return tuple(value)

    def table(self, key: str, what: str, hint: str | None = None) -> Table:
        """``key`` as a sub-table (empty when absent)."""
        value = self.data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, what, hint)
        return Table(value, f"{self.path}.{key}" if self.path else key, self.locator)


def _is_pattern(key: str) -> bool:
    return bool(_PATTERN_CHARS.search(key))


def _path(raw: str | None, base_dir: Path | None) -> Path | None:
    """A path from the map, relative to the map's directory."""
    if raw is None:
        return None
    path = Path(raw).expanduser()
    return base_dir / path if not path.is_absolute() and base_dir is not None else path


def _index(name: str, spec: Table, base_dir: Path | None) -> Index:
    spec.only(_INDEX_KEYS, f" in index {name!r}")
    url = spec.string("url", f"index {name!r} 'url'")
    if url is None:
        raise SourceMapError(
            f"index {name!r} needs a 'url' string",
            location=spec.locator.where(name, "indexes"),
            hint=f'[indexes.{name}]\nurl = "https://..."',
        )
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise spec.fail("url", f"index {name!r} has an invalid url: {exc}") from None
    if parts.scheme not in ("http", "https", "file"):
        raise spec.fail(
            "url",
            f"index {name!r} url must be http(s) or file, not {parts.scheme or 'no scheme'!r}",
        )
    if parts.password is not None:
        raise spec.fail(
            "url",
            f"index {name!r} url carries a password ({RedactedUrl(url)}); secrets never go in "
            "the map",
            hint=f"remove it and run `spip auth set {name}` (or set the password in "
            "SPIP_INDEX_<NAME>_PASSWORD)",
        )
    username = spec.string("username", f"index {name!r}: 'username'") or parts.username
    ca_bundle = _path(spec.string("ca-bundle", f"index {name!r}: 'ca-bundle'"), base_dir)
    client_cert = _path(spec.string("client-cert", f"index {name!r}: 'client-cert'"), base_dir)
    hosts = spec.strings("file-hosts", f"index {name!r}: 'file-hosts' must be a list of host names")
    clean = url.replace(f"{parts.username}@", "", 1) if parts.username else url
    newer = spec.string("exclude-newer", f"index {name!r}: 'exclude-newer'")
    try:
        exclude_newer = parse_moment(newer) if newer else None
    except ValueError:
        raise spec.fail(
            "exclude-newer",
            f"index {name!r}: 'exclude-newer' is neither a timestamp nor a duration",
            hint='e.g. exclude-newer = "7 days" or "2026-11-01T00:00:00Z"',
        ) from None
    return Index(
        name=IndexName(name),
        url=clean if clean.endswith("/") else clean + "/",
        username=username,
        ca_bundle=ca_bundle,
        client_cert=client_cert,
        exclude_newer=exclude_newer,
        file_hosts=tuple(sorted(h.lower() for h in hosts)),
        location=spec.where("url"),
    )


def _indexes(top: Table, base_dir: Path | None) -> dict[IndexName, Index]:
    raw = top.table("indexes", "'indexes' must be a table of tables")
    indexes: dict[IndexName, Index] = {}
    for name in raw.data:
        if not _INDEX_NAME_RE.match(name):
            raise raw.fail(name, f"invalid index name {name!r}")
        sub = raw.table(
            name,
            f"index {name!r} must be a table with a 'url'",
            f'[indexes.{name}]\nurl = "https://..."',
        )
        indexes[IndexName(name)] = _index(name, sub, base_dir)
    return indexes


def _default(
    top: Table, indexes: dict[IndexName, Index], strict: bool, pip_default: PipDefault | None
) -> tuple[IndexName | None, tuple[str, ...]]:
    """The default index name (adding pip's own index when the map names none), and notes."""
    raw = top.data.get("default")
    if raw is None:
        if strict:
            return None, ()
        if DEFAULT_INDEX_NAME in indexes:
            return DEFAULT_INDEX_NAME, ()
        if pip_default is None:
            raise SourceMapError(
                "the map names no default index",
                location=top.locator.origin,
                hint='add default = "<index>", or strict = true',
            )
        pip_url, ignored = pip_default()
        clean = strip_userinfo(pip_url)  # a password in pip's URL stays with the credentials
        indexes[DEFAULT_INDEX_NAME] = Index(
            name=DEFAULT_INDEX_NAME,
            url=clean if clean.endswith("/") else clean + "/",
            username=urlsplit(pip_url).username,
            location=PIP_CONFIGURATION,
        )
        notes: tuple[str, ...] = ()
        if ignored:
            notes = (
                "pip is configured with "
                + " and ".join(ignored)
                + "; spip ignores those (only the source map decides where packages come from)",
            )
        return DEFAULT_INDEX_NAME, notes
    if not isinstance(raw, str):
        raise top.fail("default", "'default' must be an index name")
    if raw not in indexes:
        raise top.fail(
            "default",
            f"default index {raw!r} is not defined",
            f"define [indexes.{raw}] with a url, or pick one of: "
            + ", ".join(sorted(indexes) or ["(none defined)"]),
        )
    return IndexName(raw), ()


def _rules(top: Table, indexes: Mapping[IndexName, Index], locator: Locator) -> tuple[Rule, ...]:
    raw = top.table("packages", "'packages' must be a table of name = index")
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for key, target in raw.data.items():
        if not isinstance(target, str):
            raise raw.fail(key, f"rule {key!r} must map to an index name")
        if target not in indexes:
            raise raw.fail(
                key,
                f"rule {key!r} names unknown index {target!r}",
                "defined indexes: " + ", ".join(sorted(indexes) or ["(none)"]),
            )
        pattern = _is_pattern(key)
        normalized = normalize_pattern(key) if pattern else canonicalize_name(key)
        if not normalized or (not pattern and not _NORMALIZED.fullmatch(normalized)):
            raise raw.fail(key, f"invalid package name or pattern {key!r}")
        kind = RuleKind.PATTERN if pattern else RuleKind.EXACT
        rule = Rule(normalized, IndexName(target), kind, key, locator)
        previous = seen.get(normalized)
        if previous is not None:
            if previous.index != rule.index:
                raise SourceMapError(
                    f"rules {previous.raw!r} ({previous.location}) and {key!r} name the "
                    f"same packages but disagree: {previous.index} vs {target}",
                    location=locator.origin,
                    hint="keep one of them",
                )
            continue
        seen[normalized] = rule
        rules.append(rule)
    return tuple(rules)


def _direct_urls(top: Table) -> dict[str, tuple[str, ...]]:
    raw = top.table("direct-urls", "'direct-urls' must be a table of name = [hosts]")
    direct: dict[str, tuple[str, ...]] = {}
    for key in raw.data:
        hosts = raw.strings(
            key,
            f"direct-urls {key!r} must list host names",
            'e.g. "acme-tool" = ["git.example.internal"]',
        )
        name = normalize_pattern(key) if _is_pattern(key) else canonicalize_name(key)
        direct[name] = tuple(sorted({h.lower() for h in hosts}))
    return direct


def _environments(top: Table) -> tuple[str, ...]:
    """``environments``: PEP 508 markers, each one environment ``spip lock`` locks for."""
    from packaging.markers import InvalidMarker, Marker

    hint = "e.g. environments = [\"sys_platform == 'linux' and python_version == '3.12'\"]"
    markers = top.strings("environments", "'environments' must be a list of markers", hint)
    for marker in markers:
        try:
            Marker(marker)
        except InvalidMarker as exc:
            raise top.fail(
                "environments", f"invalid environment marker {marker!r}: {exc}"
            ) from None
    return markers


def _audit_accept(top: Table) -> tuple[AcceptRule, ...]:
    """``[audit] accept = ["name", "name==1.0"]``: distributions the audit may accept."""
    audit = top.table("audit", "'audit' must be a table", '[audit]\naccept = ["name"]')
    audit.only(("accept",), " in [audit]")
    hint = 'e.g. accept = ["acme-legacy", "internal-tool==2.1"]'
    rules = []
    for raw in audit.strings("accept", "'accept' must be a list of NAME or NAME==VERSION", hint):
        try:
            rules.append(parse_accept(raw, audit.where("accept")))
        except ValueError as exc:
            raise audit.fail("accept", f"invalid accept entry: {exc}", hint) from None
    return tuple(rules)


def _allow_overwrite(top: Table) -> frozenset[NormalizedName]:
    """``[install] allow-overwrite = ["name"]``: distributions whose files may overlap another
    index's distribution (a known fork or repackaging)."""
    install = top.table("install", "'install' must be a table", "[install]\nallow-overwrite = []")
    install.only(("allow-overwrite",), " in [install]")
    names = install.strings(
        "allow-overwrite",
        "'allow-overwrite' must be a list of project names",
        'e.g. allow-overwrite = ["acme-fork"]',
    )
    return frozenset(canonicalize_name(name) for name in names)


def parse_source_map(
    data: Mapping[str, Any],
    *,
    origin: str,
    text: str | None = None,
    base_dir: Path | None = None,
    pip_default: PipDefault | None = None,
    table_prefix: str = "",
) -> SourceMap:
    """Validate ``data`` (the map's TOML table) and return a :class:`SourceMap`.

    ``text`` (the file's text) lets errors name lines; ``base_dir`` anchors relative paths;
    ``pip_default`` is called only when the map names no default and is not strict.
    """
    if not isinstance(data, Mapping):
        raise SourceMapError("the source map must be a TOML table", location=origin)
    locator = Locator(origin, text, table_prefix)
    top = Table(data, "", locator)
    top.only(_TOP_KEYS, "")
    strict = top.boolean("strict", False)
    indexes = _indexes(top, base_dir)
    default, notes = _default(top, indexes, strict, pip_default)
    if default is not None:
        indexes[default] = replace(indexes[default], is_default=True)
    return SourceMap(
        indexes=dict(indexes),
        rules=_rules(top, indexes, locator),
        default=default,
        strict=strict,
        origin=origin,
        notes=notes,
        direct_hosts=_direct_urls(top),
        environments=_environments(top),
        where_environments=top.where("environments"),
        audit_accept=_audit_accept(top),
        allow_overwrite=_allow_overwrite(top),
    )
