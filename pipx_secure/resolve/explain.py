"""Why a resolution is impossible, in words a user can act on.

For each requirement in conflict: who asked for it, what its assigned index lists, which of
those versions match, which matching files were rejected and why (wheel tags for the target,
Requires-Python, yanked), and the pre-releases apart from the final releases.  A page whose
every file was refused says so instead of "has no project".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import IntegrityError
from pipx_secure.model.filenames import parse_filename
from pipx_secure.resolve.finder import Evaluation
from pipx_secure.resolve.models import Candidate, Req

_SHOWN = 20


def _listed(versions: Iterable[Version]) -> str:
    ordered = sorted(set(versions))
    if len(ordered) > _SHOWN:
        return (
            ", ".join(str(v) for v in ordered[-_SHOWN:]) + f" (and {len(ordered) - _SHOWN} older)"
        )
    return ", ".join(str(v) for v in ordered)


def _rejections(evaluation: Evaluation, specifier: SpecifierSet) -> dict[Version, set[str]]:
    """Matching versions whose every file was skipped, with the reasons."""
    usable = {c.version for c in evaluation.candidates}
    found: dict[Version, set[str]] = {}
    for filename, reason in evaluation.skipped:
        try:
            version = parse_filename(filename).version
        except IntegrityError:
            continue
        if version in usable or not specifier.contains(version, prereleases=True):
            continue
        found.setdefault(version, set()).add(reason)
    return found


def _describe(req: Req, evaluation: Evaluation) -> str:
    index = evaluation.index
    where = f"index {index.name} ({index.redacted})"
    if not evaluation.candidates and not evaluation.yanked:
        if not evaluation.skipped:
            return f"{where} has no project {req.name!r}"
        reasons = "; ".join(
            f"{name}: {reason}" for name, reason in sorted(set(evaluation.skipped))[:6]
        )
        count = len(evaluation.skipped)
        return f"{where} has {count} file(s), every one refused here: {reasons}"
    seen = []
    for text in evaluation.versions_seen():
        try:
            seen.append(Version(text))
        except InvalidVersion:
            continue
    matching = [v for v in seen if req.specifier.contains(v, prereleases=True)]
    if not matching:
        return f"{where} has {_listed(seen)}; none matches {req.specifier or 'the request'}"
    parts = []
    finals = [c.version for c in evaluation.candidates if c.version in matching]
    finals_only = [v for v in finals if not v.is_prerelease]
    pre = [v for v in finals if v.is_prerelease]
    if finals_only:
        parts.append(f"matching versions {_listed(finals_only)}")
    if pre:
        parts.append(f"pre-releases {_listed(pre)} (allowed with --pre or a pre-release pin)")
    rejected = _rejections(evaluation, req.specifier)
    if rejected:
        shown = "; ".join(
            f"{v}: {', '.join(sorted(reasons))}" for v, reasons in sorted(rejected.items())
        )
        parts.append(f"not usable here: {shown}")
    yanked = [c.version for c in evaluation.yanked if c.version in matching]
    if yanked:
        parts.append(f"yanked {_listed(yanked)} (used only when pinned with ==)")
    return f"{where} has " + "; ".join(parts)


def explain(
    evaluation_of: Callable[[NormalizedName], Evaluation],
    local: Mapping[NormalizedName, Candidate],
    causes: Iterable[Any],
) -> str:
    """The message of a ResolutionError for resolvelib's ``causes``.

    ``evaluation_of`` is the provider's (it reads the assigned index only).
    """
    parts = []
    seen: set[str] = set()
    for cause in causes:
        req: Req = cause.requirement
        who = "you" if cause.parent is None else str(cause.parent)
        key = f"{req}|{who}"
        if key in seen:
            continue
        seen.add(key)
        candidate = local.get(req.name)
        if candidate is not None:
            text = f"the local project is {candidate}"
        else:
            text = _describe(req, evaluation_of(req.name))
        parts.append(f"{req} (required by {who}): {text}")
    return "cannot resolve: " + "; ".join(parts)


def hint(causes: Iterable[Any]) -> str:
    """What to check: constraints, or the rule that routes the names."""
    names = sorted({c.requirement.name for c in causes})
    return (
        "spip asks each name's assigned index only; check the version constraints, the target "
        f"Python and platform, or the source map rule for {', '.join(names)} "
        f"(`spip explain {' '.join(names)}`)"
    )
