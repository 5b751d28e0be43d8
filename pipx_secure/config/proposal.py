"""From what ``spip init`` found to a source map: named indexes, a default, routing rules.

Pure: findings in, a :class:`Proposal` and its TOML text out.  Indexes found in several places
become one (same scheme, host, port and path); a ``.pypirc`` upload URL joins the index on its
origin; the default is pip's built-in public index when it is among them, else the index a
source made primary.  Names that a private index serves get a rule for it (a glob when several
share a prefix that nothing else uses); a name two private indexes serve is left to decide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import tomli_w

from pipx_secure.config.discovery import Found, FoundIndex, NetrcEntry
from pipx_secure.model.redact import origin_of

_LABEL = re.compile(r"[^a-z0-9]+")


def index_key(url: str) -> str:
    """Where an index is, whatever its spelling: origin and path, with one trailing slash."""
    scheme, host, port = origin_of(url)
    path = urlsplit(url).path.strip("/")
    return f"{scheme}://{host}:{port}/{path}/" if path else f"{scheme}://{host}:{port}/"


@dataclass(frozen=True)
class ProposedIndex:
    """One index of the proposed map, with everything found about it."""

    name: str
    url: str
    findings: tuple[FoundIndex, ...]
    public: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    trusted_host: str | None = None

    @property
    def primary(self) -> bool:
        """Whether a source made it the main index."""
        return any(f.primary for f in self.findings)

    @property
    def where(self) -> tuple[str, ...]:
        """Every place it was found."""
        return tuple(dict.fromkeys(f.where for f in self.findings))


@dataclass(frozen=True)
class Proposal:
    """The map ``spip init`` proposes."""

    indexes: tuple[ProposedIndex, ...]
    default: str
    rules: Mapping[str, str] = field(default_factory=dict)
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def index(self, name: str) -> ProposedIndex:
        """The index called ``name``."""
        return next(i for i in self.indexes if i.name == name)

    @property
    def private(self) -> tuple[ProposedIndex, ...]:
        """Every index but the default."""
        return tuple(i for i in self.indexes if i.name != self.default)


def _name_for(findings: Sequence[FoundIndex], url: str, public: bool, taken: set[str]) -> str:
    named = next((f.name for f in findings if f.name), None)
    if public:
        base = "public"
    elif named:
        base = _LABEL.sub("-", named.lower()).strip("-") or "index"
    else:
        host = origin_of(url)[1]
        label = host.split(".")[0] if not host.replace(".", "").isdigit() else "private"
        base = _LABEL.sub("-", label).strip("-") or "private"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def _credential(
    findings: Sequence[FoundIndex], url: str, netrc: Sequence[NetrcEntry]
) -> tuple[str | None, str | None]:
    for finding in findings:
        if finding.password:
            return finding.username, finding.password
    scheme, host, port = origin_of(url)
    default_port = port == {"http": 80, "https": 443}.get(scheme)
    for entry in netrc:
        if entry.machine == f"{host}:{port}" or (default_port and entry.machine == host):
            return entry.login or None, None  # netrc keeps serving it; only its username is used
    return next((f.username for f in findings if f.username), None), None


def group_indexes(found: Found, netrc: Sequence[NetrcEntry], builtin: str) -> list[ProposedIndex]:
    """One proposed index per place, with its findings, name, username and password."""
    groups: dict[str, list[FoundIndex]] = {}
    uploads = [f for f in found.indexes if f.role == "upload"]
    for finding in found.indexes:
        if finding.role not in ("upload", "find-links"):
            groups.setdefault(index_key(finding.url), []).append(finding)
    for upload in uploads:
        same = [k for k, v in groups.items() if origin_of(v[0].url) == origin_of(upload.url)]
        groups.setdefault(same[0] if len(same) == 1 else index_key(upload.url), []).append(upload)
    trusted = {s.value.lower(): s.where for s in found.settings if s.key == "trusted-host"}
    taken: set[str] = set()
    proposed = []
    for key, findings in groups.items():
        url = next((f.url for f in findings if f.role != "upload"), findings[0].url)
        public = key == index_key(builtin)
        username, password = _credential(findings, url, netrc)
        _scheme, host, port = origin_of(url)
        proposed.append(
            ProposedIndex(
                name=_name_for(findings, url, public, taken),
                url=url if url.endswith("/") else url + "/",
                findings=tuple(findings),
                public=public,
                username=username,
                password=password,
                trusted_host=trusted.get(host) or trusted.get(f"{host}:{port}"),
            )
        )
    return proposed


def choose_default(indexes: Sequence[ProposedIndex]) -> ProposedIndex | None:
    """The index for every name no rule routes: pip's built-in public index when present,
    else one that needs no credential (primary first), else the primary one, else the first."""
    tests: tuple[Callable[[ProposedIndex], bool], ...] = (
        lambda i: i.public,
        lambda i: i.primary and not (i.username or i.password),
        lambda i: not (i.username or i.password),
        lambda i: i.primary,
        lambda i: True,
    )
    for test in tests:
        found = next((i for i in indexes if test(i)), None)
        if found is not None:
            return found
    return None


def name_default(
    indexes: Sequence[ProposedIndex], default: ProposedIndex
) -> tuple[list[ProposedIndex], ProposedIndex]:
    """Call the default index ``public`` when no source named it and the name is free."""
    named = any(f.name for f in default.findings)
    if named or default.name == "public" or any(i.name == "public" for i in indexes):
        return list(indexes), default
    renamed = replace(default, name="public")
    return [renamed if i is default else i for i in indexes], renamed


def rules_for(
    served: Mapping[str, frozenset[str]], names: Sequence[str]
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Rules routing what each private index serves, and names served by several."""
    owners: dict[str, list[str]] = {}
    for index, found in served.items():
        for name in found:
            owners.setdefault(name, []).append(index)
    conflicts = {n: tuple(sorted(o)) for n, o in owners.items() if len(o) > 1}
    routed = {n: o[0] for n, o in owners.items() if len(o) == 1}
    rules: dict[str, str] = {}
    universe = set(names) | set(owners)
    for index in sorted(set(routed.values())):
        mine = sorted(n for n, i in routed.items() if i == index)
        by_prefix: dict[str, list[str]] = {}
        for name in mine:
            by_prefix.setdefault(name.split("-", 1)[0] if "-" in name else "", []).append(name)
        for prefix, group in sorted(by_prefix.items()):
            others = {n for n in universe if n.startswith(prefix + "-")} - set(group)
            if prefix and len(group) > 1 and not others:
                rules[f"{prefix}-*"] = index
            else:
                rules.update({name: index for name in group})
    return rules, conflicts


def _toml_line(key: str, value: object) -> str:
    return tomli_w.dumps({key: value}).strip()


def render(proposal: Proposal, table: str = "") -> str:
    """The proposal as TOML (``table`` = ``tool.spip`` for pyproject.toml), with comments."""
    prefix = f"{table}." if table else ""
    lines = ["# Written by `spip init`: every name comes from one index only.", ""]
    if table:
        lines.append(f"[{table}]")
    lines += [_toml_line("default", proposal.default), ""]
    for index in proposal.indexes:
        lines.append(f"[{prefix}indexes.{index.name}]")
        lines += [f"# found in: {where}" for where in index.where]
        lines.append(_toml_line("url", index.url))
        if index.username:
            lines.append(_toml_line("username", index.username))
        if index.trusted_host and index.url.startswith("https:"):
            lines.append(
                f"# pip skips TLS checks for this host (trusted-host, {index.trusted_host}); "
                "spip always verifies: it trusts the system store, or give it the index's CA:"
            )
            lines.append('# ca-bundle = "path/to/ca.pem"')
        lines.append("")
    lines.append(f"[{prefix}packages]")
    lines += [_toml_line(pattern, index) for pattern, index in sorted(proposal.rules.items())]
    for name, owners in sorted(proposal.conflicts.items()):
        lines.append(f"# {name} is served by {' and '.join(owners)}: decide, then uncomment one:")
        lines += [f"# {_toml_line(name, owner)}" for owner in owners]
    return "\n".join(lines).rstrip() + "\n"
