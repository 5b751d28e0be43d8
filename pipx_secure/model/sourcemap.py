"""The source map: which index serves each package name (PEP 503-normalized).

File format (``spip.toml``, or the same keys under ``[tool.spip]`` in ``pyproject.toml``)::

    default = "public"          # index for names no rule matches (omit: pip's own index)
    strict = false              # true: every name must match a rule

    [indexes.private]
    url = "https://pkgs.example.internal/simple/"
    username = "ci-bot"         # optional; the password comes from env, keyring or netrc
    ca-bundle = "certs/internal.pem"   # optional, relative to this file
    file-hosts = ["files.example.internal"]  # optional: other hosts that serve its files

    [indexes.public]
    url = "https://mirror.example/simple/"

    [packages]
    "acme-*" = "private"        # glob pattern
    "internal-tool" = "private" # exact name

    [direct-urls]               # optional: ``name @ URL`` allowed from these hosts only
    "acme-tool" = ["git.example.internal"]

Parsing is pure (:func:`parse_source_map` takes a mapping and returns frozen values); loading
from disk is the thin :func:`load_source_map`.  Exact rules beat patterns; between patterns the
one with more literal characters wins; two equally specific rules that disagree are an error
naming both.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NewType
from urllib.parse import urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import PolicyError, SourceMapError
from pipx_secure.model.redact import RedactedUrl, origin_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

IndexName = NewType("IndexName", str)

DEFAULT_INDEX_NAME = IndexName("default")
_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PATTERN_CHARS = re.compile(r"[*?\[]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NORMALIZED = re.compile(r"[a-z0-9-]+")
_SEPARATORS = re.compile(r"[-_.]+")
_KNOWN_TOP = {"default", "strict", "indexes", "packages", "direct-urls"}
_KNOWN_INDEX = {"url", "username", "ca-bundle", "file-hosts"}


class RuleKind(Enum):
    """How a rule matched a name."""

    EXACT = "exact"
    PATTERN = "pattern"
    DEFAULT = "default"


@dataclass(frozen=True)
class Index:
    """A named package index (Simple Repository API root)."""

    name: IndexName
    url: str
    username: str | None = None
    ca_bundle: Path | None = None
    file_hosts: tuple[str, ...] = ()
    location: str = ""

    @property
    def redacted(self) -> RedactedUrl:
        """The URL for display."""
        return RedactedUrl(self.url)

    @property
    def origin(self) -> tuple[str, str, int | None]:
        """The index's origin (scheme, host, port)."""
        return origin_of(self.url)

    def project_url(self, name: NormalizedName) -> str:
        """The PEP 503 project page URL for ``name``."""
        return f"{self.url}{name}/"

    @property
    def env_prefix(self) -> str:
        """Prefix of the environment variables holding this index's credentials."""
        return "SPIP_INDEX_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())


@dataclass(frozen=True)
class Rule:
    """One entry of ``[packages]``: an exact name or a glob pattern routed to an index."""

    pattern: str  # normalized
    index: IndexName
    kind: RuleKind
    raw: str = ""
    locator: Locator | None = field(default=None, compare=False, repr=False)

    @property
    def location(self) -> str:
        """``file:line [packages."key"]`` (line numbers are looked up on first use)."""
        if self.locator is None:
            return f"[packages.{_quote(self.raw)}]"
        return self.locator.where(self.raw, "packages")

    @property
    def specificity(self) -> int:
        """Number of literal characters (higher is more specific); exact rules beat all."""
        if self.kind is RuleKind.EXACT:
            return 1_000_000
        return len(_PATTERN_CHARS.sub("", re.sub(r"\[[^\]]*\]", "", self.pattern)))


@dataclass(frozen=True)
class Route:
    """The answer of :meth:`SourceMap.index_for`: the index, and which rule chose it."""

    name: NormalizedName
    index: Index
    kind: RuleKind
    rule: Rule | None

    def explain(self) -> str:
        """A sentence saying why ``name`` goes to ``index``."""
        if self.rule is None:
            return (
                f"{self.name} -> {self.index.name} ({self.index.redacted}): no rule matches; "
                f"the default index serves it"
            )
        return (
            f"{self.name} -> {self.index.name} ({self.index.redacted}): "
            f"{self.kind.value} rule {self.rule.raw!r} at {self.rule.location}"
        )


def normalize_pattern(pattern: str) -> str:
    """PEP 503-normalize a glob pattern: lower-case, runs of ``-_.`` become ``-``."""
    return _SEPARATORS.sub("-", pattern.strip()).lower()


def _literal_prefix(pattern: str) -> str:
    match = _PATTERN_CHARS.search(pattern)
    return pattern if match is None else pattern[: match.start()]


@dataclass(frozen=True)
class SourceMap:
    """Package name -> index routing.  Immutable; lookups are memoized."""

    indexes: Mapping[IndexName, Index]
    rules: tuple[Rule, ...]
    default: IndexName | None
    strict: bool
    origin: str
    notes: tuple[str, ...] = ()
    direct_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _exact: Mapping[str, Rule] = field(default_factory=dict, repr=False, compare=False)
    _by_prefix: Mapping[str, tuple[Rule, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _cache: dict[str, Route] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact: dict[str, Rule] = {}
        by_prefix: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.kind is RuleKind.EXACT:
                exact[rule.pattern] = rule
            else:
                by_prefix.setdefault(_literal_prefix(rule.pattern), []).append(rule)
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_by_prefix", {k: tuple(v) for k, v in by_prefix.items()})

    def index_for(self, name: str) -> Route:
        """The route for ``name`` (normalized here); raises if strict and nothing matches."""
        key = canonicalize_name(name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        route = self._route(key)
        self._cache[key] = route
        return route

    def _route(self, name: NormalizedName) -> Route:
        rule = self._exact.get(name)
        if rule is not None:
            return Route(name, self.indexes[rule.index], RuleKind.EXACT, rule)
        matches: list[Rule] = []
        for end in range(len(name) + 1):
            for candidate in self._by_prefix.get(name[:end], ()):
                if _glob(candidate.pattern)(name):
                    matches.append(candidate)
        if matches:
            best = max(r.specificity for r in matches)
            top = [r for r in matches if r.specificity == best]
            if len({r.index for r in top}) > 1:
                a, b = sorted(top, key=lambda r: r.location)[:2]
                raise SourceMapError(
                    f"{name!r} matches two equally specific rules that disagree: "
                    f"{a.raw!r} -> {a.index} ({a.location}) and {b.raw!r} -> {b.index} "
                    f"({b.location})",
                    location=self.origin,
                    hint=f'add an exact rule "{name}" = "<index>" to decide',
                )
            chosen = sorted(top, key=lambda r: r.location)[0]
            return Route(name, self.indexes[chosen.index], RuleKind.PATTERN, chosen)
        if self.strict or self.default is None:
            raise PolicyError(
                f"{name!r} matches no rule in {self.origin} and the map is strict",
                hint=f'add "{name}" = "<index>" under [packages], or a pattern that covers it',
            )
        return Route(name, self.indexes[self.default], RuleKind.DEFAULT, None)

    def direct_url_allowed(self, name: str, host: str) -> bool:
        """Whether ``[direct-urls]`` lets ``name`` come from a URL on ``host``."""
        key = canonicalize_name(name)
        host = host.lower()
        for pattern, hosts in self.direct_hosts.items():
            if (pattern == key or _glob(pattern)(key)) and host in hosts:
                return True
        return False

    def index(self, name: IndexName) -> Index:
        """The index called ``name``."""
        return self.indexes[name]

    @property
    def default_index(self) -> Index | None:
        """The index for unmatched names, or None in strict mode."""
        return None if self.default is None else self.indexes[self.default]


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> Callable[[str], bool]:
    regex = re.compile(fnmatch.translate(pattern))
    return lambda name: regex.match(name) is not None


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_.-]+))\s*=""")


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
        dotted = f"{full}.{_quote(key)}" if full else _quote(key)
        return f"{self.origin}:{line} [{dotted}]" if line else f"{self.origin} [{dotted}]"


def _quote(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else f'"{key}"'


def _normalize_index_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def parse_source_map(
    data: Mapping[str, Any],
    *,
    origin: str,
    text: str | None = None,
    base_dir: Path | None = None,
    pip_default: Callable[[], tuple[str, tuple[str, ...]]] | None = None,
    table_prefix: str = "",
) -> SourceMap:
    """Validate ``data`` (the map's TOML table) and return a :class:`SourceMap`.

    ``pip_default`` returns (pip's index URL, pip settings ignored); it is called only when the
    map names no default and is not strict.
    """

    locator = Locator(origin, text, table_prefix)
    where = locator.where

    if not isinstance(data, Mapping):
        raise SourceMapError("the source map must be a TOML table", location=origin)
    for key in data:
        if key not in _KNOWN_TOP:
            raise SourceMapError(
                f"unknown key {key!r}",
                location=where(key),
                hint="known keys: default, strict, [indexes.NAME], [packages], [direct-urls]",
            )
    strict = data.get("strict", False)
    if not isinstance(strict, bool):
        raise SourceMapError("'strict' must be true or false", location=where("strict"))

    raw_indexes = data.get("indexes", {})
    if not isinstance(raw_indexes, Mapping):
        raise SourceMapError("'indexes' must be a table of tables", location=where("indexes"))
    indexes: dict[IndexName, Index] = {}
    for raw_name, spec in raw_indexes.items():
        loc = where(raw_name, "indexes")
        if not _INDEX_NAME_RE.match(raw_name):
            raise SourceMapError(f"invalid index name {raw_name!r}", location=loc)
        if not isinstance(spec, Mapping):
            raise SourceMapError(
                f"index {raw_name!r} must be a table with a 'url'",
                location=loc,
                hint=f'[indexes.{raw_name}]\nurl = "https://..."',
            )
        unknown = sorted(set(spec) - _KNOWN_INDEX)
        if unknown:
            raise SourceMapError(
                f"unknown key {unknown[0]!r} in index {raw_name!r}",
                location=where(unknown[0], f"indexes.{raw_name}"),
                hint="known keys: url, username, ca-bundle, file-hosts",
            )
        url = spec.get("url")
        url_loc = where("url", f"indexes.{raw_name}")
        if not isinstance(url, str) or not url:
            raise SourceMapError(f"index {raw_name!r} needs a 'url' string", location=loc)
        indexes[IndexName(raw_name)] = _parse_index(raw_name, url, spec, url_loc, base_dir)

    default_raw = data.get("default")
    notes: list[str] = []
    default: IndexName | None
    if default_raw is None:
        if strict:
            default = None
        else:
            pip_url, ignored = (pip_default or _pip_default)()
            default = DEFAULT_INDEX_NAME
            if default in indexes:
                default = indexes[default].name
            else:
                indexes[default] = Index(
                    name=default,
                    url=_normalize_index_url(pip_url),
                    location="pip configuration",
                )
            if ignored:
                notes.append(
                    "pip is configured with "
                    + " and ".join(ignored)
                    + "; spip ignores those (only the source map decides where packages come "
                    "from)"
                )
    elif isinstance(default_raw, str):
        if default_raw not in indexes:
            raise SourceMapError(
                f"default index {default_raw!r} is not defined",
                location=where("default"),
                hint=f"define [indexes.{default_raw}] with a url, or pick one of: "
                + ", ".join(sorted(indexes) or ["(none defined)"]),
            )
        default = IndexName(default_raw)
    else:
        raise SourceMapError("'default' must be an index name", location=where("default"))

    raw_rules = data.get("packages", {})
    if not isinstance(raw_rules, Mapping):
        raise SourceMapError(
            "'packages' must be a table of name = index", location=where("packages")
        )
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for raw_key, target in raw_rules.items():
        if not isinstance(target, str):
            raise SourceMapError(
                f"rule {raw_key!r} must map to an index name", location=where(raw_key, "packages")
            )
        if target not in indexes:
            raise SourceMapError(
                f"rule {raw_key!r} names unknown index {target!r}",
                location=where(raw_key, "packages"),
                hint="defined indexes: " + ", ".join(sorted(indexes) or ["(none)"]),
            )
        is_pattern = bool(_PATTERN_CHARS.search(raw_key))
        normalized = normalize_pattern(raw_key) if is_pattern else canonicalize_name(raw_key)
        if not normalized or (not is_pattern and not _NORMALIZED.fullmatch(normalized)):
            raise SourceMapError(
                f"invalid package name or pattern {raw_key!r}", location=where(raw_key, "packages")
            )
        rule = Rule(
            pattern=normalized,
            index=IndexName(target),
            kind=RuleKind.PATTERN if is_pattern else RuleKind.EXACT,
            raw=raw_key,
            locator=locator,
        )
        previous = seen.get(normalized)
        if previous is not None:
            if previous.index != rule.index:
                raise SourceMapError(
                    f"rules {previous.raw!r} ({previous.location}) and {raw_key!r} name the "
                    f"same packages but disagree: {previous.index} vs {target}",
                    location=origin,
                    hint="keep one of them",
                )
            continue
        seen[normalized] = rule
        rules.append(rule)
    raw_direct = data.get("direct-urls", {})
    if not isinstance(raw_direct, Mapping):
        raise SourceMapError(
            "'direct-urls' must be a table of name = [hosts]", location=where("direct-urls")
        )
    direct: dict[str, tuple[str, ...]] = {}
    for raw_key, hosts in raw_direct.items():
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise SourceMapError(
                f"direct-urls {raw_key!r} must list host names",
                location=where(raw_key, "direct-urls"),
                hint='e.g. "acme-tool" = ["git.example.internal"]',
            )
        is_pattern = bool(_PATTERN_CHARS.search(raw_key))
        key = normalize_pattern(raw_key) if is_pattern else canonicalize_name(raw_key)
        direct[key] = tuple(sorted({h.lower() for h in hosts}))
    return SourceMap(
        indexes=dict(indexes),
        rules=tuple(rules),
        default=default,
        strict=strict,
        origin=origin,
        notes=tuple(notes),
        direct_hosts=direct,
    )


def _parse_index(
    name: str, url: str, spec: Mapping[str, Any], loc: str, base_dir: Path | None
) -> Index:
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise SourceMapError(f"index {name!r} has an invalid url: {exc}", location=loc) from None
    if parts.scheme not in ("http", "https", "file"):
        raise SourceMapError(
            f"index {name!r} url must be http(s) or file, not {parts.scheme or 'no scheme'!r}",
            location=loc,
        )
    if parts.password is not None:
        raise SourceMapError(
            f"index {name!r} url carries a password ({RedactedUrl(url)}); secrets never go in "
            "the map",
            location=loc,
            hint=f"remove it and run `spip auth set {name}` (or set {name.upper()} credentials "
            "in SPIP_INDEX_<NAME>_PASSWORD)",
        )
    username = spec.get("username", parts.username)
    if username is not None and not isinstance(username, str):
        raise SourceMapError(f"index {name!r}: 'username' must be a string", location=loc)
    clean = url.replace(f"{parts.username}@", "", 1) if parts.username else url
    ca_raw = spec.get("ca-bundle")
    ca_bundle: Path | None = None
    if ca_raw is not None:
        if not isinstance(ca_raw, str):
            raise SourceMapError(f"index {name!r}: 'ca-bundle' must be a path", location=loc)
        ca_bundle = Path(ca_raw)
        if not ca_bundle.is_absolute() and base_dir is not None:
            ca_bundle = base_dir / ca_bundle
    hosts = spec.get("file-hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise SourceMapError(
            f"index {name!r}: 'file-hosts' must be a list of host names", location=loc
        )
    return Index(
        name=IndexName(name),
        url=_normalize_index_url(clean),
        username=username,
        ca_bundle=ca_bundle,
        file_hosts=tuple(sorted(h.lower() for h in hosts)),
        location=loc,
    )


def _pip_default() -> tuple[str, tuple[str, ...]]:
    from pipx_secure.config.pipconfig import read_pip_index_config

    config = read_pip_index_config()
    return config.index_url, config.ignored


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceMapError(
            f"cannot read source map: {exc.strerror or exc}", location=str(path)
        ) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise SourceMapError(
            f"invalid TOML: {exc}", location=str(path), hint="fix the TOML syntax"
        ) from None


def find_source_map(start: Path) -> Path | None:
    """The nearest ``spip.toml``, or ``pyproject.toml`` with ``[tool.spip]``, from ``start`` up."""
    for directory in (start, *start.parents):
        candidate = directory / "spip.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if isinstance(data.get("tool"), dict) and "spip" in data["tool"]:
                return pyproject
    return None


def load_source_map(
    explicit: Path | None = None,
    *,
    cwd: Path | None = None,
    pip_default: Callable[[], tuple[str, tuple[str, ...]]] | None = None,
) -> SourceMap:
    """Load the map: ``explicit`` (``--map``), else the nearest one from ``cwd`` upward.

    With no map anywhere, every name goes to pip's configured index (a one-index map).
    """
    path = explicit
    if path is None:
        path = find_source_map((cwd or Path.cwd()).resolve())
    if path is None:
        return parse_source_map({}, origin="(no source map)", pip_default=pip_default)
    if explicit is not None and not path.is_file():
        raise SourceMapError(
            "source map not found", location=str(path), hint="check the --map path"
        )
    data, text = _read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "spip" not in tool:
            raise SourceMapError(
                "no [tool.spip] table", location=str(path), hint="add [tool.spip] or use spip.toml"
            )
        data = tool["spip"]
        prefix = "tool.spip"
    return parse_source_map(
        data,
        origin=os.path.relpath(path) if not explicit else str(path),
        text=text,
        base_dir=path.parent,
        pip_default=pip_default,
        table_prefix=prefix,
    )
