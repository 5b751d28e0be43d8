"""``spip audit``: where did every installed distribution come from, and what will Python run?

For each distribution of an environment: the index the source map assigns and the rule that
decided it, and a verdict:

- ``verified``: the installed version is on the assigned index, and the files on disk match
  the RECORD of that index's wheel for this platform (read from spip's cache, with HTTP range
  requests, or from the whole wheel, hash-checked), with nothing added;
- ``installed-by-spip``: spip's provenance names the assigned index, the installed RECORD is
  the one spip recorded, and the files match the RECORD of the wheel spip installed (or built);
- ``accepted``: unverifiable, and accepted by name (``--accept``, ``[audit] accept``);
- ``mismatch``: files differ from the artifact or from the installed RECORD (named, with the
  distribution that wrote them when another one did);
- ``not-on-assigned-index``: the installed version does not exist on the assigned index (the
  signature of a confusion attack that already happened);
- ``unverifiable``: editable or direct-URL installs, no RECORD, only an sdist on the index, or
  a name a strict map does not route; the reason is given.

Then every file Python will execute, per site directory (:mod:`pipx_secure.audit.scan`): unowned
files, ``.pth`` files, ``sitecustomize``, bytecode compared with its source in the target
interpreter (isolated, without the site module), and the scripts directory.  The audit never
runs code of the audited environment.  The exposure scan and forwarding probe are
:mod:`pipx_secure.audit.exposure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache

from packaging.utils import NormalizedName

from pipx_secure.audit import interpreter, verify
from pipx_secure.audit.accept import apply_accept
from pipx_secure.audit.exposure import exposures, forwarding, routable
from pipx_secure.audit.files import DiskHashes, Roots
from pipx_secure.audit.interpreter import AuditTarget
from pipx_secure.audit.ownership import Installed, Ownership, outside_findings, read_installed
from pipx_secure.audit.report import (
    AuditReport,
    Checked,
    FileFinding,
    FileKind,
    PackageAudit,
    Verdict,
)
from pipx_secure.audit.scan import Scanner, bytecode_findings, script_findings
from pipx_secure.audit.wheels import RecordUnavailable, Reference, WheelRecords
from pipx_secure.errors import SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.pages import RoutedPages
from pipx_secure.index.transport import Transport
from pipx_secure.install.process import Processes
from pipx_secure.install.provenance import read_provenance, record_digest
from pipx_secure.model.accept import AcceptRule
from pipx_secure.model.hashes import Digest
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.model.sourcemap import Index, SourceMap
from pipx_secure.resolve.finder import evaluate_page


class Auditor:
    """Audits one environment against a source map, through one transport."""

    def __init__(
        self,
        source_map: SourceMap,
        target: AuditTarget,
        cache: ArtifactCache,
        transport: Transport,
        anonymous: Transport,
        processes: Processes,
        *,
        accept: Sequence[AcceptRule] = (),
        full_download: bool = False,
    ) -> None:
        self.source_map = source_map
        self.target = target
        self.env = target.environment
        self.cache = cache
        self.transport = transport
        self.anonymous = anonymous
        self.processes = processes
        self.accept = tuple(accept)
        self.pages = RoutedPages(source_map, transport)
        self.wheels = WheelRecords(transport, cache, full_download=full_download)
        self.roots = Roots.of(target.site_dirs, target.scripts, target.data)
        self.disk = DiskHashes(self.roots)
        self.installed: dict[NormalizedName, Installed] = {}
        self.ownership = Ownership(self.roots, self.disk)
        self.provenance: Mapping[str, ProvenanceEntry] = {}
        self._bytecode_count = 0
        self._scripts_count = 0
        self.notes: list[str] = []

    def run(self, *, exposure: bool = True) -> AuditReport:
        """Audit every distribution and every file, then scan for exposure and forwarding."""
        names = sorted(self.env.installed)
        self.provenance = read_provenance(self.env.prefix)
        self.installed = {n: read_installed(n, self.env.locations[n], self.roots) for n in names}
        self.ownership = Ownership.build(self.installed, self.roots, self.disk)
        self.pages.prefetch(
            n for n in names if not self._by_spip(n) and routable(self.source_map, n)
        )
        workers = min(32, (os.cpu_count() or 1) * 4, max(1, len(names)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(self._audit_one, names))
        packages = [audit for audit, _files in results]
        files = self._file_findings(results)
        packages, files, notes = apply_accept(packages, files, self.accept)
        report = AuditReport(
            python=str(self.env.python),
            packages=tuple(packages),
            files=tuple(files),
            notes=(*self.notes, *notes),
            checked=Checked(self.disk.hashed, self._bytecode_count, self._scripts_count),
            transfer=self.wheels.transfer.stats,
        )
        if not exposure:
            return report
        return replace(
            report,
            exposures=tuple(exposures(self.source_map, names, self.pages, self.anonymous)),
            forwarding=tuple(forwarding(self.source_map, names, self.transport)),
        )

    # -- files --------------------------------------------------------------------------
    def _file_findings(
        self, results: Sequence[tuple[PackageAudit, Sequence[FileFinding]]]
    ) -> list[FileFinding]:
        scan = Scanner(self.roots, self.ownership, self.target.cache_tag).run()
        items = [(p.pyc, p.source, p.optimize) for p in scan.bytecode]
        compared = interpreter.compare_bytecode(self.env.python, items, self.processes)
        rendered = lru_cache(maxsize=1)(
            lambda: (
                interpreter.venv_scripts(self.target, self.processes)
                if self.target.is_venv
                else "not a virtual environment"
            )
        )
        self._bytecode_count, self._scripts_count = len(scan.bytecode), scan.scripts
        unowned_scripts = scan.unowned_scripts
        if not self.target.is_venv and unowned_scripts:
            # A system interpreter's scripts directory is the operating system's too.
            self.notes.append(
                f"{self.roots.scripts} is shared with the system (not a virtual environment): "
                f"only the files a RECORD owns were checked there ({len(unowned_scripts)} "
                "others left out)"
            )
            unowned_scripts = []
        found: dict[str, FileFinding] = {}
        for finding in (
            *self.ownership.shared(),
            *outside_findings(self.installed),
            *scan.findings,
            *bytecode_findings(scan.bytecode, compared),
            *script_findings(
                unowned_scripts, self.roots, str(self.target.base_executable), rendered
            ),
            *(f for _audit, files in results for f in files),
        ):
            found.setdefault(finding.path, finding)
        return sorted(found.values(), key=lambda f: (f.root, f.path))

    # -- distributions ------------------------------------------------------------------
    def _by_spip(self, name: NormalizedName) -> bool:
        entry = self.provenance.get(name)
        return entry is not None and entry.version == str(self.env.installed[name])

    def _audit_one(self, name: NormalizedName) -> tuple[PackageAudit, list[FileFinding]]:
        version = str(self.env.installed[name])
        location = str(self.env.locations[name])
        try:
            route = self.source_map.index_for(name)
        except SpipError as exc:
            unrouted = PackageAudit(
                name, version, None, "(none)", Verdict.UNVERIFIABLE, exc.render(), location=location
            )
            return self._own_files(unrouted, self.installed[name])
        index = route.index
        rule = f"{route.kind.value}: {route.rule.raw if route.rule is not None else '(default)'}"
        base = PackageAudit(
            name,
            version,
            str(index.name),
            rule,
            Verdict.UNVERIFIABLE,
            "",
            index_url=str(index.redacted),
            location=location,
        )
        installed = self.installed[name]
        if installed.error is not None:
            bad = Verdict.UNVERIFIABLE if "no RECORD" in installed.error else Verdict.MISMATCH
            return replace(base, verdict=bad, reason=installed.error), []
        own = verify.against_installed(installed, self.ownership)
        direct = verify.direct_url_reason(installed)
        if direct is not None:
            return self._local(base, installed, own, direct)
        entry = self.provenance.get(name)
        if (
            entry is not None
            and entry.version == version
            and entry.record_sha256 is not None
            and entry.record_sha256 == record_digest(installed.dist_info / "RECORD")
        ):
            audit = self._by_provenance(base, entry, index, installed, own)
        else:
            audit = self._against_index(base, index, installed, own)
        return self._with_files(audit, installed)

    def _local(
        self, base: PackageAudit, installed: Installed, own: verify.Findings, reason: str
    ) -> tuple[PackageAudit, list[FileFinding]]:
        if own:
            audit = replace(
                base,
                verdict=Verdict.MISMATCH,
                reason="files changed since they were installed",
                files=own.files(),
            )
        else:
            audit = replace(base, reason=reason, record_source="installed-record")
        return self._with_files(audit, installed)

    def _own_files(
        self, audit: PackageAudit, installed: Installed
    ) -> tuple[PackageAudit, list[FileFinding]]:
        if installed.error is None:
            own = verify.against_installed(installed, self.ownership)
            if own:
                audit = replace(audit, verdict=Verdict.MISMATCH, files=own.files())
        return self._with_files(audit, installed)

    def _with_files(
        self, audit: PackageAudit, installed: Installed
    ) -> tuple[PackageAudit, list[FileFinding]]:
        """The file findings of a distribution's differing files (absolute paths)."""
        if audit.verdict is not Verdict.MISMATCH:
            return audit, []
        by_record = {o.entry.path: o.place for o in installed.entries}
        findings = []
        for label in audit.files:
            place = by_record.get(label.split(" (", 1)[0])
            if place is None:
                continue
            kind = FileKind.SCRIPT if place.root == "scripts" else FileKind.FILE
            findings.append(
                FileFinding(place.path, place.root, kind, Verdict.MISMATCH, (audit.name,), label)
            )
        return audit, findings

    def _by_provenance(
        self,
        base: PackageAudit,
        entry: ProvenanceEntry,
        index: Index,
        installed: Installed,
        own: verify.Findings,
    ) -> PackageAudit:
        if entry.index != index.name:
            return replace(
                base,
                verdict=Verdict.MISMATCH,
                reason=f"spip installed it from index {entry.index}, but the map now routes it "
                f"to {index.name}",
            )
        if own:
            return replace(
                base,
                verdict=Verdict.MISMATCH,
                reason="files changed since spip installed them",
                files=own.files(),
            )
        try:
            reference = self._spip_reference(entry, index)
        except RecordUnavailable as exc:
            return replace(base, reason=str(exc))
        return _judged(
            base,
            reference,
            verify.against_reference(installed, reference, self.ownership, self.roots),
            differ=f"installed files differ from {reference.filename}, which spip installed",
            verdict=Verdict.INSTALLED_BY_SPIP,
            reason=f"installed by spip from {entry.index} ({entry.filename})",
        )

    def _spip_reference(self, entry: ProvenanceEntry, index: Index) -> Reference:
        """The RECORD of what spip installed: the wheel it built, or the index's wheel."""
        if entry.wheel_filename and entry.wheel_sha256:
            built = self.cache.built_dir(Digest("sha256", entry.sha256), self.env.interpreter_key)
            return self.wheels.of_built_wheel(
                built / entry.wheel_filename, entry.wheel_sha256, entry.name
            )
        if not entry.filename.endswith(".whl"):
            raise RecordUnavailable(
                f"spip built it from {entry.filename} before it recorded the wheel it built; "
                "reinstall it with spip (--force-reinstall) to record that wheel"
            )
        if entry.sha256:
            cached = self.wheels.cached(Digest("sha256", entry.sha256), entry.filename)
            if cached is not None:
                return cached
        try:
            page = self.pages.page(NormalizedName(entry.name))
        except SpipError as exc:
            raise RecordUnavailable(f"cannot read the assigned index: {exc.render()}") from None
        link = next((f for f in page.files if f.filename == entry.filename), None)
        if link is None:
            raise RecordUnavailable(
                f"{entry.filename}, which spip installed, is no longer on index {index.name}"
            )
        published = link.hashes.get("sha256")
        if entry.sha256 and published and published.lower() != entry.sha256:
            raise RecordUnavailable(
                f"index {index.name} now publishes another sha256 for {entry.filename} than "
                "the one spip installed"
            )
        return self.wheels.of_index_wheel(index, link)

    def _against_index(
        self, base: PackageAudit, index: Index, installed: Installed, own: verify.Findings
    ) -> PackageAudit:
        try:
            page = self.pages.page(base.name)
        except SpipError as exc:
            return replace(base, reason=f"cannot read the assigned index: {exc.render()}")
        evaluation = evaluate_page(
            page,
            index,
            python_version=self.env.python_version,
            tag_priority=self.env.tag_priority(),
        )
        same = [
            c for c in evaluation.candidates + evaluation.yanked if str(c.version) == base.version
        ]
        if not same:
            versions = evaluation.versions_seen()
            had = ", ".join(versions[-6:]) if versions else "no such project"
            return replace(
                base,
                verdict=Verdict.NOT_ON_ASSIGNED_INDEX,
                reason=f"{base.name} {base.version} is not on index {index.name} "
                f"({index.redacted}); it has: {had}",
            )
        wheel = verify.pick_wheel(same, installed)
        if wheel is None:
            return self._sdist_only(base, own)
        try:
            reference = self.wheels.of_index_wheel(index, wheel.link)
        except RecordUnavailable as exc:
            reason = str(exc)
            if own:
                return replace(base, verdict=Verdict.MISMATCH, reason=reason, files=own.files())
            return replace(base, reason=reason)
        bad = verify.Findings()
        bad.merge(own)  # what the disk says about its own RECORD first, then the artifact
        bad.merge(verify.against_reference(installed, reference, self.ownership, self.roots))
        how = " (its RECORD read by range requests)" if reference.source == "range" else ""
        return _judged(
            base,
            reference,
            bad,
            differ=f"installed files differ from {wheel.filename} on index {index.name}",
            verdict=Verdict.VERIFIED,
            reason=f"files match {wheel.filename} on index {index.name}{how}",
        )

    @staticmethod
    def _sdist_only(base: PackageAudit, own: verify.Findings) -> PackageAudit:
        if own:
            return replace(
                base,
                verdict=Verdict.MISMATCH,
                reason="files changed since they were installed",
                files=own.files(),
            )
        return replace(
            base,
            reason="the assigned index has only an sdist of this version; it was built locally",
            record_source="installed-record",
        )


def _judged(
    base: PackageAudit,
    reference: Reference,
    bad: verify.Findings,
    *,
    differ: str,
    verdict: Verdict,
    reason: str,
) -> PackageAudit:
    """``base`` compared with ``reference``: a mismatch naming the files, else ``verdict``."""
    base = replace(
        base,
        record_source=reference.source,
        artifact=reference.filename,
        sha256=reference.sha256,
    )
    if bad:
        return replace(base, verdict=Verdict.MISMATCH, reason=differ, files=bad.files())
    return replace(base, verdict=verdict, reason=reason)
