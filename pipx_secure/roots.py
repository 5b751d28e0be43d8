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
from pipx_secure.resolver.models import Req

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from pipx_secure.reqfile import RequirementLine

__all__ = ["constraints_map", "requirements_to_reqs"]


def requirements_to_reqs(lines: Sequence[RequirementLine], markers: Mapping[str, str]) -> list[Req]:
    """Turn parsed requirement lines into resolver requirements for the target."""
    reqs: list[Req] = []
    for line in lines:
        if line.url:
            raise PolicyError(
                f"{line.location}: direct URL requirement refused: it would bypass the source map",
                hint="publish the package to an index and route its name in spip.toml "
                "[packages]; local paths and -e . are accepted",
            )
        if line.path or line.editable or line.requirement is None:
            continue  # local projects are prepared by Installer.add_local
        requirement: Requirement = line.requirement
        if requirement.url:
            raise PolicyError(
                f"{line.location}: direct URL requirement {requirement.name} @ ... refused",
                hint="route the package to an index in the source map instead",
            )
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
