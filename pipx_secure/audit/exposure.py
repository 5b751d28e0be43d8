"""Which private names are exposed, and which private indexes forward unknown names.

The exposure scan asks the default (public) index, without credentials and only about names
routed elsewhere, whether it has the same name; a public version higher than the private one is
flagged loudly.  The forwarding probe asks each private index for a name routed to the default
index: an index that serves it forwards unknown names, so routing alone does not protect.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.audit.report import Exposure, Forwarding
from pipx_secure.errors import ForwardingError, SpipError
from pipx_secure.index.pages import IndexPages, RoutedPages
from pipx_secure.index.transport import Transport
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index, RuleKind, SourceMap


def routable(source_map: SourceMap, name: str) -> bool:
    """Whether the map routes ``name`` (a strict map may not)."""
    try:
        source_map.index_for(name)
    except SpipError:
        return False
    return True


def versions_of(files: Sequence[FileLink]) -> list[Version]:
    """The versions of the files a page lists (unparseable names skipped)."""
    versions = []
    for link in files:
        try:
            versions.append(parse_filename(link.filename).version)
        except SpipError:
            continue
    return versions


def private_names(
    source_map: SourceMap, installed: Sequence[NormalizedName]
) -> dict[NormalizedName, Index]:
    """Installed names and exact rules routed to an index other than the default."""
    default = source_map.default_index
    names: dict[NormalizedName, Index] = {}
    candidates = set(installed)
    candidates |= {NormalizedName(r.pattern) for r in source_map.rules if r.kind is RuleKind.EXACT}
    for name in sorted(candidates):
        try:
            route = source_map.index_for(name)
        except SpipError:
            continue
        if default is None or route.index.name != default.name:
            names[name] = route.index
    return names


def exposures(
    source_map: SourceMap,
    installed: Sequence[NormalizedName],
    routed: RoutedPages,
    anonymous: Transport,
) -> list[Exposure]:
    """Private names that the default index also has (asked anonymously)."""
    default = source_map.default_index
    private = private_names(source_map, installed)
    if default is None or not private:
        return []
    public = IndexPages(default, anonymous)
    public.prefetch(private)
    found = []
    for name, index in private.items():
        try:
            public_versions = versions_of(public.page(name).files)
        except SpipError:
            continue
        if not public_versions:
            continue
        try:
            private_versions = versions_of(routed.page(name).files)
        except SpipError:
            private_versions = []
        top_public = max(public_versions)
        top_private = max(private_versions) if private_versions else None
        found.append(
            Exposure(
                name=name,
                index=str(index.name),
                private_version=str(top_private) if top_private else None,
                public_version=str(top_public),
                higher=top_private is None or top_public > top_private,
            )
        )
    return found


def forwarding(
    source_map: SourceMap, installed: Sequence[NormalizedName], transport: Transport
) -> list[Forwarding]:
    """Private indexes that serve a name the map routes to the default index."""
    default = source_map.default_index
    if default is None:
        return []
    probe_name = next(
        (
            n
            for n in installed
            if routable(source_map, n) and source_map.index_for(n).index.name == default.name
        ),
        NormalizedName("pip"),
    )
    findings = []
    others = {i for i in source_map.indexes.values() if i.name != default.name}
    for index in sorted(others, key=lambda i: i.name):
        try:
            page = IndexPages(index, transport).page(probe_name)
        except ForwardingError as exc:
            findings.append(Forwarding(str(index.name), probe_name, exc.message))
            continue
        except SpipError:
            continue
        if page.files:
            findings.append(
                Forwarding(
                    str(index.name),
                    probe_name,
                    f"index {index.name} ({index.redacted}) serves {probe_name!r}, a name the "
                    "map routes to the default index: it may forward unknown names to a public "
                    "index, so a private name it lacks could be served publicly",
                )
            )
    return findings
