"""Accepting what cannot be verified, and nothing else.

A distribution whose verdict is ``unverifiable`` (built locally from an sdist, installed from
a path, an index that cannot be read) becomes ``accepted`` when a rule names it (and its
version, when the rule has one); so do the unverifiable files it owns.  A mismatch, an
unowned file, a version missing from its index or an exposure is never accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pipx_secure.audit.report import FileFinding, PackageAudit, Verdict
from pipx_secure.model.accept import AcceptRule


def apply_accept(
    packages: Sequence[PackageAudit], files: Sequence[FileFinding], rules: Sequence[AcceptRule]
) -> tuple[list[PackageAudit], list[FileFinding], list[str]]:
    """Unverifiable distributions (and their unverifiable files) an accept rule names become
    ``accepted``; nothing else changes.  Rules that accepted nothing are noted."""
    used: set[AcceptRule] = set()
    accepted: dict[str, str] = {}
    out_packages = []
    for audit in packages:
        rule = next((r for r in rules if r.matches(audit.name, audit.version)), None)
        if rule is not None:
            used.add(rule)
        if rule is not None and audit.verdict is Verdict.UNVERIFIABLE:
            where = f" ({rule.origin})" if rule.origin else ""
            accepted[audit.name] = f"accepted by {rule}{where}"
            audit = replace(
                audit, verdict=Verdict.ACCEPTED, reason=f"{accepted[audit.name]}: {audit.reason}"
            )
        out_packages.append(audit)
    out_files = []
    for finding in files:
        if (
            finding.verdict is Verdict.UNVERIFIABLE
            and finding.owners
            and all(o in accepted for o in finding.owners)
        ):
            finding = replace(
                finding,
                verdict=Verdict.ACCEPTED,
                reason=f"{accepted[finding.owners[0]]}: {finding.reason}",
            )
        out_files.append(finding)
    notes = [f"accept rule {r} matched no installed distribution" for r in rules if r not in used]
    return out_packages, out_files, notes
