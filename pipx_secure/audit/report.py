"""What ``spip audit`` reports: verdicts per distribution, exposed names, forwarding indexes.

The JSON form (``--json``, schema version 1) is the ``to_json`` of :class:`AuditReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from packaging.utils import NormalizedName


class Verdict(Enum):
    """The audit result of one distribution."""

    VERIFIED = "verified"
    INSTALLED_BY_SPIP = "installed-by-spip"
    MISMATCH = "mismatch"
    NOT_ON_ASSIGNED_INDEX = "not-on-assigned-index"
    UNVERIFIABLE = "unverifiable"

    @property
    def ok(self) -> bool:
        """Whether this verdict is clean."""
        return self in (Verdict.VERIFIED, Verdict.INSTALLED_BY_SPIP)


@dataclass(frozen=True)
class PackageAudit:
    """The audit of one installed distribution."""

    name: NormalizedName
    version: str
    index: str | None
    rule: str
    verdict: Verdict
    reason: str
    files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "name": self.name,
            "version": self.version,
            "index": self.index,
            "rule": self.rule,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "files": list(self.files),
        }


@dataclass(frozen=True)
class Exposure:
    """A name routed to a private index that also exists on the default index."""

    name: NormalizedName
    index: str
    private_version: str | None
    public_version: str
    higher: bool

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "name": self.name,
            "index": self.index,
            "private_version": self.private_version,
            "public_version": self.public_version,
            "severity": "high" if self.higher else "medium",
        }


@dataclass(frozen=True)
class Forwarding:
    """A private index that serves a name the map routes to the default index."""

    index: str
    probe: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {"index": self.index, "probe": self.probe, "message": self.message}


@dataclass(frozen=True)
class AuditReport:
    """Everything ``spip audit`` found."""

    python: str
    packages: tuple[PackageAudit, ...]
    exposures: tuple[Exposure, ...] = ()
    forwarding: tuple[Forwarding, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """0 all verified and nothing exposed, 1 findings."""
        bad = [p for p in self.packages if not p.verdict.ok]
        return 1 if bad or self.exposures or self.forwarding else 0

    def to_json(self) -> dict[str, Any]:
        """The documented JSON schema (version 1)."""
        return {
            "schema": 1,
            "python": self.python,
            "exit_code": self.exit_code,
            "packages": [p.to_json() for p in self.packages],
            "exposure": [e.to_json() for e in self.exposures],
            "forwarding": [f.to_json() for f in self.forwarding],
            "notes": list(self.notes),
        }
