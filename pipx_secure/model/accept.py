"""Accepted distributions: ``NAME`` or ``NAME==VERSION`` that ``spip audit`` may accept.

A distribution the audit cannot verify (built locally from an sdist, installed from a local
path) is reported ``unverifiable`` and fails the audit until someone accepts it, by name or by
exact version, with ``spip audit --accept`` or the map's ``[audit] accept`` list.  Accepting
never hides a mismatch, an unowned file or a version that is not on the assigned index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class AcceptRule:
    """One accepted distribution: a name, and optionally the one version accepted."""

    name: NormalizedName
    version: Version | None = None
    origin: str = ""

    def matches(self, name: str, version: str) -> bool:
        """Whether this rule accepts ``name`` installed at ``version``."""
        if canonicalize_name(name) != self.name:
            return False
        if self.version is None:
            return True
        try:
            return Version(version) == self.version
        except InvalidVersion:
            return False

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}=={self.version}"


def parse_accept(raw: str, origin: str = "") -> AcceptRule:
    """``NAME`` or ``NAME==VERSION``; ValueError (saying what is allowed) otherwise."""
    text = raw.strip()
    name, sep, version = text.partition("==")
    name = name.strip()
    if not _NAME.match(name) or (sep and not version.strip()):
        raise ValueError(f"{raw!r} is not NAME or NAME==VERSION")
    if not sep:
        return AcceptRule(canonicalize_name(name), None, origin)
    try:
        parsed = Version(version.strip())
    except InvalidVersion:
        raise ValueError(f"{raw!r}: {version.strip()!r} is not a version") from None
    return AcceptRule(canonicalize_name(name), parsed, origin)
