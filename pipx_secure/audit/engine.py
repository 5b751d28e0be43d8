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

The exposure scan and forwarding probe are :mod:`pipx_secure.audit.exposure`.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.audit.exposure import exposures, forwarding, routable
from pipx_secure.audit.report import AuditReport, PackageAudit, Verdict
from pipx_secure.errors import SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.pages import RoutedPages
from pipx_secure.index.transport import Transport
from pipx_secure.install.archives import wheel_record
from pipx_secure.install.provenance import read_provenance, record_digest
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.model.records import MalformedRecord, RecordEntry, parse_record
from pipx_secure.model.sourcemap import Index, SourceMap
from pipx_secure.resolve.finder import evaluate_page

#: dist-info files an installer writes or rewrites; they never match the wheel's copy.
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
VerdictMaker = Callable[..., PackageAudit]


def disk_mismatches(site: Path, entries: Sequence[RecordEntry]) -> list[str]:
    """Installed files whose bytes differ from the RECORD hashes (or are missing)."""
    bad = []
    for entry in entries:
        if entry.algorithm is None or entry.digest is None:
            continue
        try:
            data = (site / entry.path).resolve().read_bytes()
        except OSError:
            bad.append(f"{entry.path} (missing)")
            continue
        try:
            if not entry.matches(data):
                bad.append(entry.path)
        except ValueError:
            bad.append(f"{entry.path} (unknown hash {entry.algorithm})")
    return bad


def comparable(record: Sequence[RecordEntry]) -> list[RecordEntry]:
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


class Auditor:
    """Audits one environment against a source map, through one transport."""

    def __init__(
        self,
        source_map: SourceMap,
        target: TargetEnvironment,
        cache: ArtifactCache,
        transport: Transport,
        anonymous: Transport,
    ) -> None:
        self.source_map = source_map
        self.target = target
        self.cache = cache
        self.transport = transport
        self.anonymous = anonymous
        self.pages = RoutedPages(source_map, transport)

    def run(self, *, exposure: bool = True) -> AuditReport:
        """Audit every distribution, then scan for exposure and forwarding."""
        provenance = read_provenance(self.target.prefix)
        names = sorted(self.target.installed)
        # Prefetch the pages of what needs checking against an index: routable names whose
        # installed version spip did not record.
        self.pages.prefetch(
            name
            for name in names
            if not (
                name in provenance and provenance[name].version == str(self.target.installed[name])
            )
            and routable(self.source_map, name)
        )
        results = [self._audit_one(name, provenance) for name in names]
        if not exposure:
            return AuditReport(python=str(self.target.python), packages=tuple(results))
        return AuditReport(
            python=str(self.target.python),
            packages=tuple(results),
            exposures=tuple(exposures(self.source_map, names, self.pages, self.anonymous)),
            forwarding=tuple(forwarding(self.source_map, names, self.transport)),
        )

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
        rule = f"{route.kind.value}: {route.rule.raw if route.rule is not None else '(default)'}"

        def verdict(v: Verdict, reason: str, files: Sequence[str] = ()) -> PackageAudit:
            return PackageAudit(name, str(version), str(index.name), rule, v, reason, tuple(files))

        dist_info = self.target.locations.get(name)
        if dist_info is None or not (dist_info / "RECORD").is_file():
            return verdict(Verdict.UNVERIFIABLE, "no RECORD file (installed without one)")
        direct = _direct_url_reason(dist_info)
        if direct is not None:
            return verdict(Verdict.UNVERIFIABLE, direct)
        try:
            installed_record = parse_record(
                (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
            )
        except MalformedRecord as exc:
            return verdict(Verdict.MISMATCH, str(exc))
        entry = provenance.get(name)
        if (
            entry is not None
            and entry.version == str(version)
            and entry.record_sha256 is not None
            and entry.record_sha256 == record_digest(dist_info / "RECORD")
        ):
            return self._by_provenance(entry, index, dist_info.parent, installed_record, verdict)
        return self._verify_against_index(name, version, index, dist_info.parent, verdict)

    def _by_provenance(
        self,
        entry: ProvenanceEntry,
        index: Index,
        site: Path,
        installed_record: Sequence[RecordEntry],
        verdict: VerdictMaker,
    ) -> PackageAudit:
        if entry.index != index.name:
            return verdict(
                Verdict.MISMATCH,
                f"spip installed it from index {entry.index}, but the map now routes it "
                f"to {index.name}",
            )
        bad = disk_mismatches(site, installed_record)
        if bad:
            return verdict(Verdict.MISMATCH, "files changed since spip installed them", bad)
        # Also compare with the verified artifact itself when the cache still has it, so a
        # RECORD rewritten together with the files is caught too.
        cached = (
            self.cache.lookup(Digest("sha256", entry.sha256), entry.filename)
            if entry.sha256 and entry.filename.endswith(".whl")
            else None
        )
        if cached is not None:
            try:
                bad = disk_mismatches(site, comparable(wheel_record(cached)))
            except (zipfile.BadZipFile, OSError, KeyError, MalformedRecord):
                bad = []
            if bad:
                return verdict(
                    Verdict.MISMATCH,
                    f"installed files differ from {entry.filename}, which spip installed",
                    bad,
                )
        return verdict(
            Verdict.INSTALLED_BY_SPIP, f"installed by spip from {entry.index} ({entry.filename})"
        )

    def _verify_against_index(
        self,
        name: NormalizedName,
        version: Version,
        index: Index,
        site: Path,
        verdict: VerdictMaker,
    ) -> PackageAudit:
        try:
            page = self.pages.page(name)
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
            record = wheel_record(self.transport.download(index, wheel.link))
        except KeyError:
            return verdict(Verdict.UNVERIFIABLE, f"{wheel.filename} has no RECORD")
        except (SpipError, zipfile.BadZipFile, OSError, MalformedRecord) as exc:
            reason = exc.render() if isinstance(exc, SpipError) else str(exc)
            return verdict(Verdict.UNVERIFIABLE, f"cannot fetch the index's wheel: {reason}")
        bad = disk_mismatches(site, comparable(record))
        if bad:
            return verdict(
                Verdict.MISMATCH,
                f"installed files differ from {wheel.filename} on index {index.name}",
                bad,
            )
        return verdict(Verdict.VERIFIED, f"files match {wheel.filename} on index {index.name}")


def _direct_url_reason(dist_info: Path) -> str | None:
    """Why a distribution with a PEP 610 record cannot be verified against an index."""
    direct = dist_info / "direct_url.json"
    if not direct.is_file():
        return None
    try:
        info = json.loads(direct.read_text(encoding="utf-8"))
    except ValueError:
        info = {}
    dir_info = info.get("dir_info") if isinstance(info, dict) else None
    if isinstance(dir_info, dict) and dir_info.get("editable"):
        return "editable install of a local project"
    return "installed from a direct URL or local path"
