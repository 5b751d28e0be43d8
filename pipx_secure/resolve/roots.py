"""Root requirements: the user's requirement lines turned into resolver inputs.

Pure and free of network imports, so the no-op fast path can use it without loading the HTTP
stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import PolicyError
from pipx_secure.resolve.models import Req

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pipx_secure.model.reqline import RequirementLine
    from pipx_secure.model.sourcemap import SourceMap

__all__ = ["constraints_map", "requirements_to_reqs"]


def direct_url_allowed(line: RequirementLine, source_map: SourceMap | None) -> bool:
    """Whether ``line`` is a ``name @ URL`` whose host the map's ``[direct-urls]`` allows.

    Raises PolicyError, saying how to allow it, for every other URL requirement.
    """
    url = line.url or (line.requirement.url if line.requirement else None)
    if not url:
        return False
    from urllib.parse import urlsplit

    from pipx_secure.model.redact import redact

    host = (urlsplit(url[len("git+") :] if url.startswith("git+") else url).hostname or "").lower()
    if line.requirement is None:
        raise PolicyError(
            f"{line.location}: direct URL {redact(url)} has no project name",
            hint="write it as NAME @ URL, and allow NAME from that host in [direct-urls]",
        )
    name = line.requirement.name
    if source_map is not None and host and source_map.direct_url_allowed(name, host):
        return True
    raise PolicyError(
        f"{line.location}: direct URL requirement {name} @ {redact(url)} refused: it bypasses "
        "the source map",
        hint=f"publish {name} to an index routed in [packages], or allow this host with "
        f'[direct-urls] "{canonicalize_name(name)}" = ["{host or "HOST"}"] in spip.toml',
    )


def requirements_to_reqs(
    lines: Sequence[RequirementLine],
    markers: Mapping[str, str],
    source_map: SourceMap | None = None,
) -> list[Req]:
    """Turn parsed requirement lines into resolver requirements for the target.

    Local paths and allowed direct URLs are local sources (:mod:`pipx_secure.resolve.sources`).
    """
    reqs: list[Req] = []
    for line in lines:
        if line.path or line.editable:
            continue  # local projects (file: URLs included) are local sources
        if line.url or (line.requirement is not None and line.requirement.url):
            direct_url_allowed(line, source_map)  # raises unless [direct-urls] allows it
            continue
        if line.requirement is None:
            continue  # unnamed local projects are local sources
        requirement: Requirement = line.requirement
        if requirement.marker is not None and not requirement.marker.evaluate(
            dict(markers, extra="")
        ):
            continue
        reqs.append(Req.from_requirement(requirement, source=line.location))
    return reqs


def constraints_map(
    lines: Sequence[RequirementLine], markers: Mapping[str, str]
) -> dict[NormalizedName, SpecifierSet]:
    """Constraint files as name -> combined specifier."""
    result: dict[NormalizedName, SpecifierSet] = {}
    for line in lines:
        requirement = line.requirement
        if requirement is None:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(
            dict(markers, extra="")
        ):
            continue
        name = canonicalize_name(requirement.name)
        result[name] = result.get(name, SpecifierSet()) & requirement.specifier
    return result
