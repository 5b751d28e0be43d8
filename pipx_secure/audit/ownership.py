"""Who owns each file of the environment: the installed RECORD files, read once.

:func:`read_installed` parses the RECORD of every audited distribution and locates each entry
(:mod:`pipx_secure.audit.files`); an entry that leaves the environment's roots is kept aside as
a finding and never read.  :class:`Ownership` then answers, for any file found on disk, which
distributions list it, and whether its bytes match what each of them recorded, which is how a
file written by one distribution over another's (module shadowing) is named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.audit.files import OUTSIDE, DiskHashes, Located, Roots
from pipx_secure.audit.report import FileFinding, FileKind, Verdict
from pipx_secure.model.records import MalformedRecord, RecordEntry, parse_record


@dataclass(frozen=True)
class Owned:
    """One RECORD entry of one distribution, located in the environment."""

    dist: NormalizedName
    entry: RecordEntry
    place: Located


@dataclass(frozen=True)
class Installed:
    """A distribution's installed RECORD: located entries, and the ones that left the roots."""

    name: NormalizedName
    dist_info: Path
    site: str
    entries: tuple[Owned, ...] = ()
    outside: tuple[str, ...] = ()
    error: str | None = None


def read_installed(name: NormalizedName, dist_info: Path, roots: Roots) -> Installed:
    """Parse and locate the RECORD of one installed distribution."""
    site = os.path.realpath(dist_info.parent)
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
        entries = parse_record(text)
    except OSError:
        return Installed(name, dist_info, site, error="no RECORD file (installed without one)")
    except MalformedRecord as exc:
        return Installed(name, dist_info, site, error=str(exc))
    located: list[Owned] = []
    outside: list[str] = []
    for entry in entries:
        place = roots.locate(site, entry.path)
        if place is None:
            outside.append(entry.path)
        else:
            located.append(Owned(name, entry, place))
    return Installed(name, dist_info, site, tuple(located), tuple(outside))


@dataclass
class Ownership:
    """path -> the RECORD entries that list it, over every audited distribution."""

    roots: Roots
    disk: DiskHashes
    by_path: dict[str, list[Owned]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, installed: Mapping[NormalizedName, Installed], roots: Roots, disk: DiskHashes
    ) -> Ownership:
        """Index every located entry by the file it names."""
        ownership = cls(roots, disk)
        for name in sorted(installed):
            for owned in installed[name].entries:
                ownership.by_path.setdefault(owned.place.path, []).append(owned)
        return ownership

    def owners(self, path: str) -> list[Owned]:
        """The entries listing ``path`` (empty: nobody owns it)."""
        return self.by_path.get(path, [])

    def matches(self, owned: Owned) -> bool | None:
        """Whether the file's bytes match this entry (None: the entry has no hash)."""
        entry = owned.entry
        if entry.algorithm is None or entry.digest is None:
            return None
        found = self.disk.digest(owned.place.path, entry.algorithm)
        return found.digest is not None and found.digest == entry.digest

    def writer(self, path: str, other_than: NormalizedName) -> NormalizedName | None:
        """Another distribution whose recorded hash the file at ``path`` has (who wrote it)."""
        for owned in self.owners(path):
            if owned.dist != other_than and self.matches(owned):
                return owned.dist
        return None

    def shared(self) -> list[FileFinding]:
        """Files listed by two or more distributions, each reported with every owner."""
        findings = []
        for path, owned in sorted(self.by_path.items()):
            names = tuple(dict.fromkeys(o.dist for o in owned))
            if len(names) < 2:
                continue
            hashed = [o for o in owned if o.entry.digest]
            if not hashed and os.path.basename(os.path.dirname(path)) == "__pycache__":
                continue  # bytecode: compared with its source, reported with every owner
            matching = list(dict.fromkeys(o.dist for o in hashed if self.matches(o)))
            if not hashed:
                verdict, reason = Verdict.UNVERIFIABLE, "no RECORD lists its hash"
            elif len(matching) == len(names):
                verdict, reason = Verdict.VERIFIED, "same content in every owner's RECORD"
            elif matching:
                verdict = Verdict.MISMATCH
                others = ", ".join(n for n in names if n not in matching)
                reason = f"written by {', '.join(matching)} over the copy of {others}"
            else:
                verdict, reason = Verdict.MISMATCH, "matches no owner's RECORD"
            findings.append(
                FileFinding(
                    path,
                    owned[0].place.root,
                    FileKind.FILE,
                    verdict,
                    names,
                    f"owned by {' and '.join(names)}: {reason}",
                )
            )
        return findings


def outside_findings(installed: Mapping[NormalizedName, Installed]) -> list[FileFinding]:
    """RECORD entries that point outside the environment: reported, never read."""
    findings = []
    for name in sorted(installed):
        for path in installed[name].outside:
            findings.append(
                FileFinding(
                    path,
                    OUTSIDE,
                    FileKind.RECORD_ENTRY,
                    Verdict.MISMATCH,
                    (name,),
                    f"the RECORD of {name} lists a path outside the environment's install "
                    "directories; it was not read",
                )
            )
    return findings
