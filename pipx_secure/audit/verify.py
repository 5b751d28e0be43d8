"""One distribution's verdict: its files against its installed RECORD and its artifact's RECORD.

Every distribution with a RECORD has the files on disk hashed against what it recorded (so a
file edited after an sdist build is a mismatch too).  The artifact's RECORD (the index's wheel,
or the wheel spip built) is then the reference: each of its files must be on disk with its
hash, the installed RECORD may not list another hash for them, and the installed RECORD may
list nothing else than what an installer adds (installer files, bytecode, the scripts the
wheel declares).  A file that has another distribution's recorded hash is named as written by
it (module shadowing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from packaging.utils import InvalidWheelFilename, NormalizedName, parse_wheel_filename

from pipx_secure.audit.files import DATA, SCRIPTS, SITE, Roots, read_small
from pipx_secure.audit.ownership import Installed, Ownership
from pipx_secure.audit.report import PackageAudit
from pipx_secure.audit.wheels import Reference
from pipx_secure.model.records import (
    entry_point_scripts,
    installed_place,
    is_installer_file,
)
from pipx_secure.resolve.models import Candidate

VerdictMaker = Callable[..., PackageAudit]


@dataclass
class Findings:
    """Files of one distribution that differ, by RECORD path, with why."""

    labels: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, why: str = "") -> None:
        """Record ``path`` (the first reason given wins)."""
        self.labels.setdefault(path, f"{path} ({why})" if why else path)

    def merge(self, other: Findings) -> None:
        """Add another set of findings."""
        for path, label in other.labels.items():
            self.labels.setdefault(path, label)

    def files(self) -> tuple[str, ...]:
        """The labels, in RECORD-path order."""
        return tuple(self.labels[p] for p in sorted(self.labels))

    def __bool__(self) -> bool:
        return bool(self.labels)


def _why(ownership: Ownership, owned_path: str, problem: str | None, dist: NormalizedName) -> str:
    if problem == "missing":
        return "missing"
    if problem:
        return problem
    writer = ownership.writer(owned_path, dist)
    return f"overwritten by {writer}" if writer else ""


def against_installed(installed: Installed, ownership: Ownership) -> Findings:
    """Files whose bytes differ from the distribution's own RECORD, and entries outside."""
    found = Findings()
    for owned in installed.entries:
        entry = owned.entry
        if entry.algorithm is None or entry.digest is None:
            continue
        digest = ownership.disk.digest(owned.place.path, entry.algorithm)
        if digest.digest != entry.digest:
            found.add(entry.path, _why(ownership, owned.place.path, digest.problem, owned.dist))
    for path in installed.outside:
        found.add(path, "outside the environment; not read")
    return found


def _allowed_scripts(installed: Installed, roots: Roots) -> set[str]:
    """Script names the distribution's entry_points.txt declares (with Windows forms)."""
    names: set[str] = set()
    text = read_small(str(installed.dist_info / "entry_points.txt"), roots)
    for name in entry_point_scripts(text or ""):
        names |= {name, f"{name}.exe", f"{name}-script.py", f"{name}-script.pyw"}
    return names


def _place(roots: Roots, installed: Installed, wheel_path: str) -> tuple[str, str | None]:
    """(root kind, absolute path or None when it leaves the roots) of a wheel RECORD path."""
    kind, relative = installed_place(wheel_path)
    if kind == SITE:
        found = roots.locate(installed.site, relative)
    elif kind == DATA and roots.data:
        found = roots.locate(roots.data, relative)
    else:
        return kind, None
    return kind, found.path if found is not None else None


def against_reference(
    installed: Installed, reference: Reference, ownership: Ownership, roots: Roots
) -> Findings:
    """Differences between the files on disk and the artifact's RECORD (see the module doc)."""
    found = Findings()
    by_path = {o.place.path: o for o in installed.entries}
    covered: set[str] = set()
    scripts: set[str] = set()
    for entry in reference.entries:
        kind, path = _place(roots, installed, entry.path)
        if kind == SCRIPTS:
            scripts.add(installed_place(entry.path)[1])
        if entry.algorithm is None or entry.digest is None or is_installer_file(entry.path):
            continue
        if kind not in (SITE, DATA):
            continue
        if path is None:
            found.add(entry.path, "the artifact's RECORD points outside the environment")
            continue
        covered.add(path)
        digest = ownership.disk.digest(path, entry.algorithm)
        if digest.digest != entry.digest:
            found.add(entry.path, _why(ownership, path, digest.problem, installed.name))
            continue
        mine = by_path.get(path)
        if mine and mine.entry.algorithm == entry.algorithm and mine.entry.digest != entry.digest:
            found.add(entry.path, "its installed RECORD entry was altered")
    allowed = _allowed_scripts(installed, roots) | scripts
    for owned in installed.entries:
        if owned.place.path in covered or is_installer_file(owned.entry.path):
            continue
        if os.path.basename(os.path.dirname(owned.place.path)) == "__pycache__":
            continue  # bytecode is compared with its source
        if owned.place.root == SCRIPTS and os.path.basename(owned.place.path) in allowed:
            continue  # generated at install time; hashed against the installed RECORD
        found.add(owned.entry.path, f"not in {reference.filename}")
    return found


def wheel_tags(installed: Installed) -> frozenset[str]:
    """The tags the installed ``WHEEL`` file names (which wheel was installed)."""
    try:
        text = (installed.dist_info / "WHEEL").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return frozenset(
        line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("Tag:")
    )


def pick_wheel(candidates: Sequence[Candidate], installed: Installed) -> Candidate | None:
    """The index's wheel that was installed: the one whose tags the installed WHEEL names,
    else the best one for this interpreter."""
    wheels = [c for c in candidates if c.link.is_wheel]
    tags = wheel_tags(installed)
    for candidate in wheels:
        try:
            file_tags = parse_wheel_filename(candidate.link.filename)[3]
        except InvalidWheelFilename:
            continue
        if {str(t) for t in file_tags} & tags:
            return candidate
    return wheels[0] if wheels else None


def direct_url_reason(installed: Installed) -> str | None:
    """Why a distribution with a PEP 610 record cannot be verified against an index."""
    direct = installed.dist_info / "direct_url.json"
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
