"""``spip audit``: where did every installed distribution come from?

For each distribution of an environment: the index the source map assigns and the rule that
decided it, and a verdict:

- ``verified``: the installed version is on the assigned index, and the files on disk match the
  RECORD of that index's wheel for this platform (the wheel is fetched, hash-checked, and its
  RECORD compared with the installed files' hashes);
- ``installed-by-spip``: spip's provenance record names the assigned index, and the installed
  RECORD and every file it lists still match;
- ``mismatch``: files differ from the assigned index's artifact (the files are named);
- ``not-on-assigned-index``: the installed version does not exist on the assigned index (the
  signature of a confusion attack that already happened);
- ``unverifiable``: editable or direct-URL installs, no RECORD, only an sdist on the index, or
  a name a strict map does not route; the reason is given.

The exposure scan asks the default (public) index, without credentials and only about names
routed elsewhere, whether it has the same name; a public version higher than the private one is
flagged loudly.  Forwarding detection asks each private index for a name routed to the default
index: an index that serves it forwards unknown names, so routing alone does not protect.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pipx_secure.config.credentials import CredentialStore
from pipx_secure.errors import SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.client import IndexClient
from pipx_secure.install.provenance import ProvenanceEntry, read_provenance, record_digest
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.sourcemap import Index, RuleKind, SourceMap
from pipx_secure.resolve.finder import evaluate_page

#: dist-info files an installer writes or rewrites; they never match the wheel's copy.
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


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


@dataclass(frozen=True)
class RecordEntry:
    """One row of a RECORD file."""

    path: str
    algorithm: str | None
    digest: str | None  # urlsafe base64, unpadded

    @classmethod
    def parse(cls, text: str) -> list[RecordEntry]:
        """Parse RECORD text (CSV: path, algo=digest, size)."""
        rows = []
        for row in csv.reader(io.StringIO(text)):
            if not row or not row[0]:
                continue
            algorithm = digest = None
            if len(row) > 1 and "=" in row[1]:
                algorithm, _, digest = row[1].partition("=")
            rows.append(cls(row[0], algorithm, digest))
        return rows


def _b64_digest(data: bytes, algorithm: str) -> str:
    raw = hashlib.new(algorithm, data).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _disk_mismatches(site: Path, entries: Sequence[RecordEntry]) -> list[str]:
    """Installed files whose bytes differ from the RECORD hashes (or are missing)."""
    bad = []
    for entry in entries:
        if entry.algorithm is None or entry.digest is None:
            continue
        path = (site / entry.path).resolve()
        try:
            data = path.read_bytes()
        except OSError:
            bad.append(f"{entry.path} (missing)")
            continue
        try:
            if _b64_digest(data, entry.algorithm) != entry.digest:
                bad.append(entry.path)
        except ValueError:
            bad.append(f"{entry.path} (unknown hash {entry.algorithm})")
    return bad


class Auditor:
    """Audits one environment against a source map."""

    def __init__(
        self,
        source_map: SourceMap,
        target: TargetEnvironment,
        cache: ArtifactCache,
        credentials: CredentialStore | None = None,
    ) -> None:
        self.source_map = source_map
        self.target = target
        self.cache = cache
        self.credentials = credentials or CredentialStore()
        self.client = IndexClient(source_map, self.credentials, cache)

    def close(self) -> None:
        """Release network resources."""
        self.client.close()

    def run(self, *, exposure: bool = True) -> AuditReport:
        """Audit every distribution, then scan for exposure and forwarding."""
        provenance = read_provenance(self.target.prefix)
        names = sorted(self.target.installed)
        # Prefetch the pages of what needs checking against an index: routable names whose
        # installed version spip did not record.
        needed = []
        for name in names:
            entry = provenance.get(name)
            if entry is not None and entry.version == str(self.target.installed[name]):
                continue
            if _routable(self.source_map, name):
                needed.append(name)
        self.client.prefetch(needed)
        results = [self._audit_one(name, provenance) for name in names]
        exposures: list[Exposure] = []
        forwarding: list[Forwarding] = []
        if exposure:
            exposures = self._exposure(names)
            forwarding = self._forwarding(names)
        return AuditReport(
            python=str(self.target.python),
            packages=tuple(results),
            exposures=tuple(exposures),
            forwarding=tuple(forwarding),
        )

    # -- one distribution -------------------------------------------------------------------
    def _audit_one(
        self, name: NormalizedName, provenance: Mapping[str, ProvenanceEntry]
    ) -> PackageAudit:
        version = self.target.installed[name]
        try:
            route = self.source_map.index_for(name)
        except SpipError as exc:
            return PackageAudit(
                name, str(version), None, "(none)", Verdict.UNVERIFIABLE, exc.render()
            )
        index = route.index
        rule = route.rule.raw if route.rule is not None else "(default)"
        kind = route.kind.value

        def verdict(v: Verdict, reason: str, files: Sequence[str] = ()) -> PackageAudit:
            return PackageAudit(
                name, str(version), str(index.name), f"{kind}: {rule}", v, reason, tuple(files)
            )

        dist_info = self.target.locations.get(name)
        if dist_info is None or not (dist_info / "RECORD").is_file():
            return verdict(Verdict.UNVERIFIABLE, "no RECORD file (installed without one)")
        site = dist_info.parent
        direct = dist_info / "direct_url.json"
        if direct.is_file():
            try:
                info = json.loads(direct.read_text(encoding="utf-8"))
            except ValueError:
                info = {}
            if info.get("dir_info", {}).get("editable"):
                return verdict(Verdict.UNVERIFIABLE, "editable install of a local project")
            return verdict(Verdict.UNVERIFIABLE, "installed from a direct URL or local path")
        installed_record = RecordEntry.parse(
            (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
        )
        entry = provenance.get(name)
        if (
            entry is not None
            and entry.version == str(version)
            and entry.record_sha256 is not None
            and entry.record_sha256 == record_digest(dist_info / "RECORD")
        ):
            if entry.index != index.name:
                return verdict(
                    Verdict.MISMATCH,
                    f"spip installed it from index {entry.index}, but the map now routes it "
                    f"to {index.name}",
                )
            bad = _disk_mismatches(site, installed_record)
            if bad:
                return verdict(Verdict.MISMATCH, "files changed since spip installed them", bad)
            # Also compare with the verified artifact itself when the cache still has it, so
            # a RECORD rewritten together with the files is caught too.
            from pipx_secure.model.hashes import Digest

            cached = (
                self.cache.lookup(Digest("sha256", entry.sha256), entry.filename)
                if entry.sha256 and entry.filename.endswith(".whl")
                else None
            )
            if cached is not None:
                try:
                    bad = _disk_mismatches(site, _comparable(_wheel_record(cached)))
                except (zipfile.BadZipFile, OSError, KeyError):
                    bad = []
                if bad:
                    return verdict(
                        Verdict.MISMATCH,
                        f"installed files differ from {entry.filename}, which spip installed",
                        bad,
                    )
            return verdict(
                Verdict.INSTALLED_BY_SPIP,
                f"installed by spip from {entry.index} ({entry.filename})",
            )
        return self._verify_against_index(name, version, index, site, installed_record, verdict)

    def _verify_against_index(
        self,
        name: NormalizedName,
        version: Version,
        index: Index,
        site: Path,
        installed_record: Sequence[RecordEntry],
        verdict: Callable[..., PackageAudit],
    ) -> PackageAudit:
        try:
            page = self.client.page(name)
        except SpipError as exc:
            return verdict(Verdict.UNVERIFIABLE, f"cannot read the assigned index: {exc.render()}")
        evaluation = evaluate_page(
            page,
            index,
            python_version=self.target.python_version,
            tag_priority=self.target.tag_priority(),
        )
        same = [c for c in evaluation.candidates + evaluation.yanked if c.version == version]
        if not same:
            versions = evaluation.versions_seen()
            had = ", ".join(versions[-6:]) if versions else "no such project"
            return verdict(
                Verdict.NOT_ON_ASSIGNED_INDEX,
                f"{name} {version} is not on index {index.name} ({index.redacted}); it has: {had}",
            )
        wheel = next((c for c in same if c.link.is_wheel), None)
        if wheel is None:
            return verdict(
                Verdict.UNVERIFIABLE,
                "the assigned index has only an sdist of this version; it was built locally",
            )
        try:
            path = self.client.download(index, wheel.link)
            wheel_record = _wheel_record(path)
        except KeyError:
            return verdict(Verdict.UNVERIFIABLE, f"{wheel.filename} has no RECORD")
        except (SpipError, zipfile.BadZipFile, OSError) as exc:
            reason = exc.render() if isinstance(exc, SpipError) else str(exc)
            return verdict(Verdict.UNVERIFIABLE, f"cannot fetch the index's wheel: {reason}")
        bad = _disk_mismatches(site, _comparable(wheel_record))
        if bad:
            return verdict(
                Verdict.MISMATCH,
                f"installed files differ from {wheel.filename} on index {index.name}",
                bad,
            )
        return verdict(Verdict.VERIFIED, f"files match {wheel.filename} on index {index.name}")

    # -- exposure ---------------------------------------------------------------------------
    def _private_names(self, installed: Sequence[NormalizedName]) -> dict[NormalizedName, Index]:
        default = self.source_map.default_index
        names: dict[NormalizedName, Index] = {}
        candidates = set(installed)
        candidates |= {
            NormalizedName(r.pattern) for r in self.source_map.rules if r.kind is RuleKind.EXACT
        }
        for name in sorted(candidates):
            try:
                route = self.source_map.index_for(name)
            except SpipError:
                continue
            if default is None or route.index.name != default.name:
                names[name] = route.index
        return names

    def _exposure(self, installed: Sequence[NormalizedName]) -> list[Exposure]:
        default = self.source_map.default_index
        if default is None:
            return []
        private = self._private_names(installed)
        if not private:
            return []
        public_only = SourceMap(
            indexes={default.name: default},
            rules=(),
            default=default.name,
            strict=False,
            origin="exposure scan",
        )
        anonymous = CredentialStore({}, use_keyring=False, netrc_path=Path("/nonexistent"))
        public = IndexClient(public_only, anonymous, self.cache, http_cache=False)
        exposures = []
        try:
            public.prefetch(private)
            for name, index in private.items():
                try:
                    page = public.page(name)
                except SpipError:
                    continue
                public_versions = _versions(page.files)
                if not public_versions:
                    continue
                try:
                    private_versions = _versions(self.client.page(name).files)
                except SpipError:
                    private_versions = []
                top_public = max(public_versions)
                top_private = max(private_versions) if private_versions else None
                exposures.append(
                    Exposure(
                        name=name,
                        index=str(index.name),
                        private_version=str(top_private) if top_private else None,
                        public_version=str(top_public),
                        higher=top_private is None or top_public > top_private,
                    )
                )
        finally:
            public.close()
        return exposures

    def _forwarding(self, installed: Sequence[NormalizedName]) -> list[Forwarding]:
        default = self.source_map.default_index
        if default is None:
            return []
        probe_name = next(
            (
                n
                for n in installed
                if self.source_map.index_for(n).index.name == default.name
                if _routable(self.source_map, n)
            ),
            NormalizedName("pip"),
        )
        findings = []
        for index in sorted(
            {i for i in self.source_map.indexes.values() if i.name != default.name},
            key=lambda i: i.name,
        ):
            only = SourceMap(
                indexes={index.name: index},
                rules=(),
                default=index.name,
                strict=False,
                origin="forwarding probe",
            )
            client = IndexClient(only, self.credentials, self.cache, http_cache=False)
            try:
                page = client.page(probe_name)
            except SpipError:
                continue
            finally:
                client.close()
            if page.files:
                findings.append(
                    Forwarding(
                        str(index.name),
                        probe_name,
                        f"index {index.name} ({index.redacted}) serves {probe_name!r}, a name "
                        "the map routes to the default index: it may forward unknown names to "
                        "a public index, so a private name it lacks could be served publicly",
                    )
                )
        return findings


def _wheel_record(path: Path) -> list[RecordEntry]:
    """The RECORD inside a wheel (KeyError when it has none)."""
    with zipfile.ZipFile(path) as archive:
        record_name = next(
            (
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
            ),
            None,
        )
        if record_name is None:
            raise KeyError("RECORD")
        return RecordEntry.parse(archive.read(record_name).decode("utf-8"))


def _comparable(record: Sequence[RecordEntry]) -> list[RecordEntry]:
    """Entries whose installed copy must equal the wheel's (not .data, not installer files)."""
    return [
        e
        for e in record
        if ".data/" not in e.path.split("/", 1)[0] + "/"
        and not (
            e.path.split("/", 1)[0].endswith(".dist-info")
            and e.path.rsplit("/", 1)[-1] in _INSTALLER_FILES
        )
    ]


def _routable(source_map: SourceMap, name: str) -> bool:
    try:
        source_map.index_for(name)
    except SpipError:
        return False
    return True


def _versions(files: Sequence[Any]) -> list[Version]:
    from pipx_secure.model.simple_api import parse_filename

    versions = []
    for link in files:
        try:
            versions.append(parse_filename(link.filename).version)
        except SpipError:
            continue
    return versions


def audit_environment(
    source_map: SourceMap,
    target: TargetEnvironment,
    cache: ArtifactCache,
    *,
    exposure: bool = True,
) -> AuditReport:
    """Run a whole audit (convenience for the CLI)."""
    auditor = Auditor(source_map, target, cache)
    try:
        return auditor.run(exposure=exposure)
    finally:
        auditor.close()


def canonical(name: str) -> NormalizedName:
    """PEP 503 name."""
    return canonicalize_name(name)
