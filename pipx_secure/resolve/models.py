"""Small frozen types the resolver works with."""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index


def identifier_of(name: NormalizedName, extras: frozenset[NormalizedName]) -> str:
    """``name`` or ``name[a,b]``: one resolver identity per name and extra set."""
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True)
class Req:
    """A requirement on a project, as the resolver sees it (markers already evaluated)."""

    name: NormalizedName
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: frozenset[NormalizedName] = frozenset()
    parent: str | None = None  # "acme-utils 1.0.0", or None for a user requirement
    source: str = "command line"

    @property
    def identifier(self) -> str:
        """The resolver identity."""
        return identifier_of(self.name, self.extras)

    @classmethod
    def from_requirement(
        cls, requirement: Requirement, *, parent: str | None = None, source: str = ""
    ) -> Req:
        """Convert a PEP 508 requirement (its marker must already be checked)."""
        return cls(
            name=canonicalize_name(requirement.name),
            specifier=requirement.specifier,
            extras=frozenset(canonicalize_name(e) for e in requirement.extras),
            parent=parent,
            source=source,
        )

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras}{self.specifier}"


@dataclass(frozen=True)
class Candidate:
    """One version of a project from its assigned index, with the file chosen for it."""

    name: NormalizedName
    version: Version
    link: FileLink = field(compare=False)
    index: Index = field(compare=False)
    extras: frozenset[NormalizedName] = frozenset()
    filename: str = ""

    @property
    def identifier(self) -> str:
        """The resolver identity."""
        return identifier_of(self.name, self.extras)

    def with_extras(self, extras: frozenset[NormalizedName]) -> Candidate:
        """The same version and file, standing for ``name[extras]``."""
        return Candidate(self.name, self.version, self.link, self.index, extras, self.filename)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"
