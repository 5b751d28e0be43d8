"""Core metadata (METADATA / PKG-INFO) as a small frozen value.

Parsing is pure (``packaging.metadata.parse_email``).  :func:`sdist_static_metadata` decides,
per PEP 643, whether an sdist's PKG-INFO can be trusted for dependencies without building.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import IntegrityError

_DEPENDENCY_FIELDS = {"requires-dist", "requires-python", "provides-extra"}


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of core metadata resolution needs."""

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    metadata_version: str
    dynamic: frozenset[str]


def parse_core_metadata(data: bytes | str, what: str) -> CoreMetadata:
    """Parse METADATA/PKG-INFO bytes; malformed dependency data is an IntegrityError."""
    raw, _unparsed = parse_email(data)
    name = raw.get("name")
    version = raw.get("version")
    if not name or not version:
        raise IntegrityError(f"{what}: metadata has no Name or Version")
    try:
        parsed_version = Version(version)
    except InvalidVersion:
        raise IntegrityError(f"{what}: metadata has an invalid Version {version!r}") from None
    requirements = []
    for line in raw.get("requires_dist", []):
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise IntegrityError(f"{what}: invalid Requires-Dist {line!r}: {exc}") from None
    requires_python = None
    if raw.get("requires_python"):
        try:
            requires_python = SpecifierSet(raw["requires_python"])
        except InvalidSpecifier:
            raise IntegrityError(
                f"{what}: invalid Requires-Python {raw['requires_python']!r}"
            ) from None
    return CoreMetadata(
        name=canonicalize_name(name),
        version=parsed_version,
        requires_dist=tuple(requirements),
        requires_python=requires_python,
        metadata_version=raw.get("metadata_version", "1.0"),
        dynamic=frozenset(d.lower() for d in raw.get("dynamic", [])),
    )


def is_static(meta: CoreMetadata) -> bool:
    """PEP 643: metadata 2.2+ whose dependency fields are not Dynamic can be trusted."""
    try:
        version = Version(meta.metadata_version)
    except InvalidVersion:
        return False
    return version >= Version("2.2") and not (meta.dynamic & _DEPENDENCY_FIELDS)
