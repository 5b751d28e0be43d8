"""Everything Python will execute, found by walking the site and scripts directories.

Each file of a site directory is owned by a RECORD or reported ``unowned``; every top-level
``.pth`` file is reported with its owner and whether a line of it runs code (``import``, as
the site module decides); ``sitecustomize``/``usercustomize`` are reported with their owner;
each ``__pycache__/*.pyc`` becomes a comparison with its verified source (run later, in the
target interpreter); the files of the scripts directory that no RECORD owns are checked as
the virtual environment's own files (the interpreter links, and the activation scripts the
interpreter's ``venv`` module writes) or reported ``unowned``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipx_secure.audit.files import SCRIPTS, SITE, Roots, read_bytes, read_small, walk
from pipx_secure.audit.interpreter import BytecodeResult
from pipx_secure.audit.ownership import Owned, Ownership
from pipx_secure.audit.report import FileFinding, FileKind, Verdict
from pipx_secure.model.records import bytecode_name, pth_executes

CUSTOMIZE = ("sitecustomize", "usercustomize")


@dataclass(frozen=True)
class PendingBytecode:
    """A ``.pyc`` to compare with the code its (verified) source compiles to."""

    pyc: str
    source: str
    optimize: int
    owners: tuple[str, ...]


@dataclass
class Scan:
    """What walking the roots found."""

    findings: list[FileFinding] = field(default_factory=list)
    bytecode: list[PendingBytecode] = field(default_factory=list)
    unowned_scripts: list[str] = field(default_factory=list)
    files: int = 0
    scripts: int = 0


def _names(owned: list[Owned]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(o.dist for o in owned))


def owned_verdict(ownership: Ownership, path: str) -> tuple[Verdict, str]:
    """The verdict of one file from its owners' RECORD entries."""
    owned = ownership.owners(path)
    if not owned:
        return Verdict.UNOWNED, "no installed distribution's RECORD lists it"
    results = [ownership.matches(o) for o in owned]
    names = " and ".join(_names(owned))
    if all(results):
        return Verdict.VERIFIED, f"owned by {names}; matches its RECORD"
    if any(r is None for r in results) and not any(r is False for r in results):
        return Verdict.UNVERIFIABLE, f"owned by {names}, whose RECORD lists no hash for it"
    return Verdict.MISMATCH, f"owned by {names}; differs from its RECORD"


class Scanner:
    """Walks the roots once, classifying every file."""

    def __init__(self, roots: Roots, ownership: Ownership, cache_tag: str) -> None:
        self.roots = roots
        self.ownership = ownership
        self.cache_tag = cache_tag

    def run(self) -> Scan:
        """Walk every site directory, then the scripts directory."""
        scan = Scan()
        nested = tuple(r for _kind, r in self.roots.named() if _kind != "data")
        for site in self.roots.sites:
            for path in walk(site, skip=tuple(r for r in nested if r != site)):
                scan.files += 1
                self._site_file(scan, site, path)
        if self.roots.scripts and os.path.isdir(self.roots.scripts):
            for path in walk(self.roots.scripts):
                scan.scripts += 1
                if not self.ownership.owners(path):
                    scan.unowned_scripts.append(path)
        return scan

    def _site_file(self, scan: Scan, site: str, path: str) -> None:
        relative = os.path.relpath(path, site)
        top_level = os.sep not in relative
        if top_level and relative.endswith(".pth"):
            verdict, reason = owned_verdict(self.ownership, path)
            text = read_small(path, self.roots) or ""
            runs = pth_executes(text)
            reason += "; a line runs code at every start of Python" if runs else ""
            scan.findings.append(self._finding(path, FileKind.PTH, verdict, reason, runs))
            return
        module = relative.split(os.sep, 1)[0].split(".", 1)[0]
        if module in CUSTOMIZE:
            verdict, reason = owned_verdict(self.ownership, path)
            reason = f"{module} runs at every start of Python; {reason}"
            scan.findings.append(self._finding(path, FileKind.CUSTOMIZE, verdict, reason))
            return
        if os.path.basename(os.path.dirname(path)) == "__pycache__" and path.endswith(".pyc"):
            self._bytecode(scan, path)
            return
        if not self.ownership.owners(path):
            verdict, reason = Verdict.UNOWNED, "no installed distribution's RECORD lists it"
            scan.findings.append(self._finding(path, FileKind.FILE, verdict, reason))

    def _finding(
        self, path: str, kind: FileKind, verdict: Verdict, reason: str, runs: bool | None = None
    ) -> FileFinding:
        located = self.roots.classify(path)
        root = located.root if located else SITE
        return FileFinding(
            path, root, kind, verdict, _names(self.ownership.owners(path)), reason, runs
        )

    def _bytecode(self, scan: Scan, path: str) -> None:
        owned = self.ownership.owners(path)
        if owned and all(o.entry.digest for o in owned):
            return  # its RECORD hash is checked with the distribution's files
        parsed = bytecode_name(os.path.basename(path))
        source = ""
        if parsed is not None:
            source = os.path.join(os.path.dirname(os.path.dirname(path)), parsed[0] + ".py")
        source_owned = self.ownership.owners(source) if source else []
        owners = _names(owned) or _names(source_owned)

        def report(verdict: Verdict, reason: str) -> None:
            finding = FileFinding(path, SITE, FileKind.BYTECODE, verdict, owners, reason)
            scan.findings.append(finding)

        if parsed is None:
            report(Verdict.UNOWNED if not owners else Verdict.UNVERIFIABLE, "not a PEP 3147 name")
        elif parsed[1] != self.cache_tag:
            why = f"compiled for {parsed[1]}; this interpreter ({self.cache_tag}) never loads it"
            report(Verdict.UNVERIFIABLE if owners else Verdict.UNOWNED, why)
        elif not os.path.lexists(source):
            why = "bytecode without its source (not imported from __pycache__)"
            report(Verdict.UNVERIFIABLE if owners else Verdict.UNOWNED, why)
        elif not source_owned:
            report(Verdict.UNOWNED, "bytecode of a source no RECORD lists")
        elif not any(self.ownership.matches(o) for o in source_owned):
            report(Verdict.UNVERIFIABLE, "its source does not match its RECORD")
        else:
            scan.bytecode.append(PendingBytecode(path, source, parsed[2], owners))


def bytecode_findings(
    pending: list[PendingBytecode], results: Mapping[str, BytecodeResult]
) -> list[FileFinding]:
    """Findings for every compared ``.pyc`` that is not exactly its source's code."""
    findings = []
    for item in pending:
        result = results.get(item.pyc, BytecodeResult("failed", False, "not compared"))
        if result.status == "same":
            continue
        loaded = "Python loads it" if result.loaded else "stale: Python would recompile it"
        if result.status == "differs":
            verdict = Verdict.MISMATCH
            reason = f"its code is not what {os.path.basename(item.source)} compiles to ({loaded})"
        elif result.status == "foreign":
            verdict, reason = (
                Verdict.UNVERIFIABLE,
                f"not loaded by this interpreter: {result.detail}",
            )
        else:
            verdict, reason = Verdict.UNVERIFIABLE, f"could not be compared: {result.detail}"
        if result.detail and result.status == "differs":
            reason += f"; {result.detail}"
        findings.append(
            FileFinding(item.pyc, SITE, FileKind.BYTECODE, verdict, item.owners, reason)
        )
    return findings


def _same_file(path: str, other: str) -> bool:
    try:
        if os.path.samefile(os.path.realpath(path), os.path.realpath(other)):
            return True
        if os.path.islink(path) or os.path.getsize(path) != os.path.getsize(other):
            return False
        with open(path, "rb") as a, open(other, "rb") as b:
            return hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    except OSError:
        return False


def script_findings(
    unowned: list[str],
    roots: Roots,
    base_executable: str,
    rendered: Callable[[], Mapping[str, bytes] | str],
) -> list[FileFinding]:
    """Files of the scripts directory no RECORD owns: the environment's own, or unowned."""
    findings = []
    for path in unowned:
        if _same_file(path, base_executable):
            continue  # the interpreter itself (a link to it, or a copy)
        name = os.path.basename(path)
        scripts = rendered()
        if isinstance(scripts, str) or name not in scripts:
            why = "no installed distribution's RECORD lists it"
            if isinstance(scripts, str) and name.lower().startswith("activate"):
                why += f"; the activation scripts could not be regenerated: {scripts}"
            findings.append(FileFinding(path, SCRIPTS, FileKind.SCRIPT, Verdict.UNOWNED, (), why))
            continue
        same = not os.path.islink(path) and read_bytes(path, roots, 1 << 24) == scripts[name]
        if not same:
            why = "differs from the activation script this interpreter's venv module writes"
            findings.append(
                FileFinding(path, SCRIPTS, FileKind.ENVIRONMENT, Verdict.UNVERIFIABLE, (), why)
            )
    return findings
