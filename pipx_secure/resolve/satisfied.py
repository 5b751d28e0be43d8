"""The no-op fast path: is everything already installed, by spip, from the assigned index?

A pure check over what the target probe reported: every requirement (and, recursively, every
dependency its installed metadata declares for the target's markers and requested extras) is
installed in a version that satisfies it, and spip's provenance record says that exact version
came from the index the source map assigns to its name today.  When that holds, ``spip
install`` has nothing to do and asks no index and starts no pip.  Anything installed by another
tool takes the full path, so an impostor that happens to satisfy a specifier is never kept on
trust.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import SpipError
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.models import Req


def already_satisfied(
    requirements: Sequence[Req],
    target: TargetEnvironment,
    source_map: SourceMap,
    provenance: Mapping[str, ProvenanceEntry],
) -> bool:
    """True when the whole closure of ``requirements`` is installed by spip from its index."""
    queue: list[Req] = list(requirements)
    seen: set[tuple[NormalizedName, frozenset[NormalizedName]]] = set()
    while queue:
        req = queue.pop()
        version = target.installed.get(req.name)
        if version is None or not req.specifier.contains(version, prereleases=True):
            return False
        entry = provenance.get(req.name)
        try:
            route = source_map.index_for(req.name)
        except SpipError:
            return False
        if entry is None or entry.version != str(version) or entry.index != route.index.name:
            return False
        key = (req.name, req.extras)
        if key in seen:
            continue
        seen.add(key)
        extras = ("", *sorted(req.extras))
        for line in target.requires.get(req.name, ()):
            try:
                dep = Requirement(line)
            except InvalidRequirement:
                return False
            if dep.marker is not None and not any(
                dep.marker.evaluate(dict(target.markers, extra=e)) for e in extras
            ):
                continue
            queue.append(
                Req(
                    canonicalize_name(dep.name),
                    dep.specifier,
                    frozenset(canonicalize_name(e) for e in dep.extras),
                )
            )
    return True
