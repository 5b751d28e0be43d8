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

    environments = ["sys_platform == 'linux' and python_version == '3.12'"]  # spip lock

    [direct-urls]               # optional: ``name @ URL`` allowed from these hosts only
    "acme-tool" = ["git.example.internal"]

    [audit]                     # optional: distributions ``spip audit`` may accept unverified
    accept = ["acme-legacy", "internal-tool==2.1"]

    [install]                   # optional: may overwrite files of another index's distribution
    allow-overwrite = ["acme-fork"]

This module holds the routing values and the one routing decision, :meth:`SourceMap.index_for`.
The TOML form is validated by :mod:`pipx_secure.model.maptoml` (pure); finding and reading the
file is :mod:`pipx_secure.config.mapfile`.  Exact rules beat patterns; between patterns the
one with more literal characters wins; two equally specific rules that disagree are an error
naming both.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import NewType, Protocol

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import PolicyError, SourceMapError
from pipx_secure.model.accept import AcceptRule
from pipx_secure.model.redact import RedactedUrl, origin_of

IndexName = NewType("IndexName", str)

DEFAULT_INDEX_NAME = IndexName("default")
_PATTERN_CHARS = re.compile(r"[*?\[]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SEPARATORS = re.compile(r"[-_.]+")


class KeyLocator(Protocol):
    """Says where a key of the map file is written (``file:line [table.key]``)."""

    def where(self, key: str, table: str = "") -> str:
        """The location of ``key`` in ``table``."""


def quote_key(key: str) -> str:
    """``key`` as TOML writes it: bare when it can be, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else f'"{key}"'


class RuleKind(Enum):
    """How a rule matched a name."""

    EXACT = "exact"
    PATTERN = "pattern"
    DEFAULT = "default"


class AuthMode(Enum):
    """When an index receives a credential (see :attr:`Index.auth`)."""

    PREEMPTIVE = "preemptive"  # the map names a username: looked up and sent from the start
    ON_CHALLENGE = "on-challenge"  # only after a 401 from the index's own origin
    NEVER = "never"  # the default index without a username: never (environment aside)


@dataclass(frozen=True)
class Index:
    """A named package index (Simple Repository API root)."""

    name: IndexName
    url: str
    username: str | None = None
    ca_bundle: Path | None = None
    file_hosts: tuple[str, ...] = ()
    location: str = ""
    is_default: bool = False
    client_cert: Path | None = None
    exclude_newer: datetime | timedelta | None = None
    """Files uploaded later (a timestamp, or a duration before now) are no candidates."""

    @property
    def auth(self) -> AuthMode:
        """When this index gets a credential: a map username makes it preemptive; the
        default index without one never gets any; other indexes only after a 401."""
        if self.username:
            return AuthMode.PREEMPTIVE
        return AuthMode.NEVER if self.is_default else AuthMode.ON_CHALLENGE

    @property
    def netloc(self) -> str:
        """``host`` for the scheme's default port, else ``host:port`` (keyring's key, pip's)."""
        scheme, host, port = self.origin
        default = {"http": 80, "https": 443}.get(scheme)
        return host if port in (None, default) else f"{host}:{port}"

    @property
    def default_port(self) -> bool:
        """Whether the index is on its scheme's default port (a bare host names it alone)."""
        scheme, _host, port = self.origin
        return port == {"http": 80, "https": 443}.get(scheme)

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
    locator: KeyLocator | None = field(default=None, compare=False, repr=False)

    @property
    def location(self) -> str:
        """``file:line [packages."key"]`` (line numbers are looked up on first use)."""
        if self.locator is None:
            return f"[packages.{quote_key(self.raw)}]"
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
    environments: tuple[str, ...] = ()
    """PEP 508 markers ``spip lock`` locks for (``environments = [...]``); empty: the target."""
    where_environments: str = ""
    """Where ``environments`` is written (``spip.toml:3 [environments]``), for errors."""
    audit_accept: tuple[AcceptRule, ...] = ()
    allow_overwrite: frozenset[NormalizedName] = frozenset()
    """Distributions allowed to write files another index's distribution owns."""
    _exact: Mapping[str, Rule] = field(default_factory=dict, repr=False, compare=False)
    _by_prefix: Mapping[str, tuple[Rule, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _cache: dict[str, Route] = field(default_factory=dict, repr=False, compare=False)

    def allowing_overwrite(self, names: tuple[str, ...]) -> SourceMap:
        """This map, with ``names`` (``--allow-overwrite``) added to ``allow-overwrite``."""
        if not names:
            return self
        extra = frozenset(canonicalize_name(n) for n in names)
        return replace(self, allow_overwrite=self.allow_overwrite | extra)

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
