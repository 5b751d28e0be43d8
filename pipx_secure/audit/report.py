"""What ``spip audit`` reports: verdicts per distribution and per file, exposed names,
forwarding indexes, and what the audit transferred.

The JSON form (``--format json``, ``"schema": 2``) is :meth:`AuditReport.to_json`::

    schema        2 (1 had no "files", "summary", "checked" or "transfer"; "accepted" and
                  "unowned" are new verdicts)
    python        the audited interpreter
    exit_code     0 when every finding is verified, installed-by-spip or accepted, else 1
    summary       {"packages": {verdict: count}, "files": {verdict: count}}
    packages      [{name, version, index, rule, verdict, reason, files, record_source,
                    artifact, sha256, index_url, location}]  location: the dist-info
                  directory; files: RECORD paths that differ;
                  record_source: where the reference RECORD came from (cache, range,
                  download, built-wheel, installed-record) or null
    files         [{path, root, kind, verdict, owners, reason, executes}]  root: site,
                  scripts, data or outside; kind: file, pth, customize, bytecode, script,
                  environment, record-entry; executes: for .pth files, whether a line runs code
    checked       {"files": hashed files, "bytecode": .pyc files compared, "scripts": files
                  of the scripts directory}
    transfer      {"range_requests", "range_bytes", "downloads", "download_bytes",
                  "cache_hits", "wheels_bytes", "fallbacks"}  wheels_bytes: the size of every
                  wheel whose RECORD was needed from an index (what full downloads would cost)
    exposure      [{name, index, private_version, public_version, severity}]
    forwarding    [{index, probe, message}]
    notes         [text]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from packaging.utils import NormalizedName

SCHEMA_VERSION = 2


class Verdict(Enum):
    """The audit result of one distribution or one file."""

    VERIFIED = "verified"
    INSTALLED_BY_SPIP = "installed-by-spip"
    ACCEPTED = "accepted"
    MISMATCH = "mismatch"
    NOT_ON_ASSIGNED_INDEX = "not-on-assigned-index"
    UNVERIFIABLE = "unverifiable"
    UNOWNED = "unowned"

    @property
    def ok(self) -> bool:
        """Whether this verdict is clean."""
        return self in (Verdict.VERIFIED, Verdict.INSTALLED_BY_SPIP, Verdict.ACCEPTED)


class FileKind(Enum):
    """What a file finding is about."""

    FILE = "file"
    PTH = "pth"
    CUSTOMIZE = "customize"
    BYTECODE = "bytecode"
    SCRIPT = "script"
    ENVIRONMENT = "environment"
    RECORD_ENTRY = "record-entry"


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
    record_source: str | None = None
    artifact: str | None = None
    sha256: str | None = None
    index_url: str | None = None
    location: str | None = None

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
            "record_source": self.record_source,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "index_url": self.index_url,
            "location": self.location,
        }


@dataclass(frozen=True)
class FileFinding:
    """A file Python may execute (or a RECORD entry) that the audit reports on its own."""

    path: str
    root: str
    kind: FileKind
    verdict: Verdict
    owners: tuple[str, ...]
    reason: str
    executes: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "path": self.path,
            "root": self.root,
            "kind": self.kind.value,
            "verdict": self.verdict.value,
            "owners": list(self.owners),
            "reason": self.reason,
            "executes": self.executes,
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
class TransferStats:
    """What the audit fetched to read wheels' RECORD files."""

    range_requests: int = 0
    range_bytes: int = 0
    downloads: int = 0
    download_bytes: int = 0
    cache_hits: int = 0
    wheels_bytes: int = 0
    fallbacks: int = 0

    @property
    def total_bytes(self) -> int:
        """Bytes downloaded, range requests and full downloads together."""
        return self.range_bytes + self.download_bytes

    def to_json(self) -> dict[str, int]:
        """As a JSON object."""
        return {
            "range_requests": self.range_requests,
            "range_bytes": self.range_bytes,
            "downloads": self.downloads,
            "download_bytes": self.download_bytes,
            "cache_hits": self.cache_hits,
            "wheels_bytes": self.wheels_bytes,
            "fallbacks": self.fallbacks,
        }


@dataclass(frozen=True)
class Checked:
    """How much the audit looked at."""

    files: int = 0
    bytecode: int = 0
    scripts: int = 0

    def to_json(self) -> dict[str, int]:
        """As a JSON object."""
        return {"files": self.files, "bytecode": self.bytecode, "scripts": self.scripts}


@dataclass(frozen=True)
class AuditReport:
    """Everything ``spip audit`` found."""

    python: str
    packages: tuple[PackageAudit, ...]
    exposures: tuple[Exposure, ...] = ()
    forwarding: tuple[Forwarding, ...] = ()
    notes: tuple[str, ...] = field(default=())
    files: tuple[FileFinding, ...] = ()
    checked: Checked = field(default_factory=Checked)
    transfer: TransferStats = field(default_factory=TransferStats)

    @property
    def exit_code(self) -> int:
        """0 when every finding is verified or accepted and nothing is exposed, else 1."""
        bad = [p for p in self.packages if not p.verdict.ok]
        bad_files = [f for f in self.files if not f.verdict.ok]
        return 1 if bad or bad_files or self.exposures or self.forwarding else 0

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per verdict, for distributions and for file findings."""
        return {
            "packages": dict(sorted(Counter(p.verdict.value for p in self.packages).items())),
            "files": dict(sorted(Counter(f.verdict.value for f in self.files).items())),
        }

    def to_json(self) -> dict[str, Any]:
        """The documented JSON schema (version 2)."""
        return {
            "schema": SCHEMA_VERSION,
            "python": self.python,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "packages": [p.to_json() for p in self.packages],
            "files": [f.to_json() for f in self.files],
            "checked": self.checked.to_json(),
            "transfer": self.transfer.to_json(),
            "exposure": [e.to_json() for e in self.exposures],
            "forwarding": [f.to_json() for f in self.forwarding],
            "notes": list(self.notes),
        }
