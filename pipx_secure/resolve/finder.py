"""Turn a project page into candidates: one best file per acceptable version.

Pure given a page and the target: it applies PEP 592 (yanked files are skipped unless the
version is pinned with ``==``/``===``), ``requires-python``, wheel tag compatibility
(packaging.tags), and the binary policy.  Every skipped file gets a reason, so an impossible
resolution can say what the index had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.errors import IntegrityError, PolicyError
from pipx_secure.model.cooldown import upload_time
from pipx_secure.model.filenames import Distribution, parse_filename
from pipx_secure.model.simple_api import FileLink, ProjectPage
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.models import Candidate


class BinaryPolicy(Enum):
    """Which kinds of file a project may be installed from."""

    ANY = "any"  # wheels preferred per version, sdists allowed
    ONLY_BINARY = "only-binary"
    NO_BINARY = "no-binary"
    PREFER_BINARY = "prefer-binary"  # an older wheel beats a newer sdist


@dataclass(frozen=True)
class Evaluation:
    """The candidates of one project page, and why the other files were skipped."""

    name: NormalizedName
    index: Index
    candidates: tuple[Candidate, ...]  # newest first
    yanked: tuple[Candidate, ...]  # only usable for == pins
    skipped: tuple[tuple[str, str], ...]

    def versions_seen(self) -> list[str]:
        """Every version the index listed (for error messages)."""
        seen = {str(c.version) for c in self.candidates + self.yanked}
        for filename, _ in self.skipped:
            try:
                seen.add(str(parse_filename(filename).version))
            except IntegrityError:
                continue
        return sorted(seen, key=Version)


def _rank(
    link: FileLink, dist: Distribution, policy: BinaryPolicy, tag_priority: Mapping[Tag, int]
) -> tuple[int, int] | str:
    """The preference of a file (lower is better), or why it cannot be used here."""
    if dist.tags is None:
        if policy is BinaryPolicy.ONLY_BINARY:
            return "sdist refused by --only-binary"
        return (1, 0)
    if policy is BinaryPolicy.NO_BINARY:
        return "wheel refused by --no-binary"
    ranks = [tag_priority[t] for t in dist.tags if t in tag_priority]
    if not ranks:
        return "no compatible wheel tag"
    return (0, min(ranks))


def _python_refusal(link: FileLink, python_version: Version) -> str | None:
    if not link.requires_python:
        return None
    try:
        if SpecifierSet(link.requires_python).contains(python_version, prereleases=True):
            return None
    except InvalidSpecifier:
        return "invalid requires-python"
    return f"requires Python {link.requires_python}"


_Table = dict[Version, tuple[tuple[int, int], FileLink]]


def _check_upload_times(page: ProjectPage, index: Index) -> None:
    if page.files and all(link.upload_time is None for link in page.files):
        raise PolicyError(
            f"index {index.name} ({index.redacted}) publishes no upload time for "
            f"{page.name!r} (PEP 700), so the release-age cooldown cannot be applied to it",
            hint=f"remove `exclude-newer` from [indexes.{index.name}] (or --uploaded-prior-to), "
            "or serve PEP 691 JSON pages with upload-time",
        )


def _too_new(link: FileLink, uploaded_before: datetime) -> str | None:
    uploaded = upload_time(link.upload_time)
    if uploaded is None:
        return "no upload time (PEP 700) to check against the cooldown"
    if uploaded > uploaded_before:
        return f"uploaded {link.upload_time}, after {uploaded_before.isoformat()}"
    return None


def _candidates(
    page: ProjectPage, index: Index, table: _Table, policy: BinaryPolicy
) -> tuple[Candidate, ...]:
    items = sorted(table.items(), key=lambda kv: kv[0], reverse=True)
    if policy is BinaryPolicy.PREFER_BINARY:
        items.sort(key=lambda kv: kv[1][0][0])  # stable: wheels first, newest first
    return tuple(
        Candidate(page.name, version, link, index, frozenset(), link.filename)
        for version, (_rank, link) in items
    )


def evaluate_page(
    page: ProjectPage,
    index: Index,
    *,
    python_version: Version,
    tag_priority: Mapping[Tag, int],
    policy: BinaryPolicy = BinaryPolicy.ANY,
    ignore_requires_python: bool = False,
    uploaded_before: datetime | None = None,
) -> Evaluation:
    """Choose the best file of each version on ``page`` for the target.

    ``uploaded_before``: files uploaded later are skipped (PEP 700); a page that gives no
    upload time for any file cannot honour it and is refused.
    """
    if uploaded_before is not None:
        _check_upload_times(page, index)
    best: _Table = {}
    best_yanked: _Table = {}
    skipped: list[tuple[str, str]] = list(page.rejected)
    for link in page.files:
        try:
            dist = parse_filename(link.filename)
        except IntegrityError as exc:
            skipped.append((link.filename, exc.message))
            continue
        if dist.name != page.name:
            skipped.append((link.filename, f"belongs to project {dist.name}"))
            continue
        refusal = None if ignore_requires_python else _python_refusal(link, python_version)
        if refusal is None and uploaded_before is not None:
            refusal = _too_new(link, uploaded_before)
        rank = _rank(link, dist, policy, tag_priority) if refusal is None else refusal
        if isinstance(rank, str):
            skipped.append((link.filename, rank))
            continue
        table = best_yanked if link.yanked is not None else best
        current = table.get(dist.version)
        if current is None or rank < current[0]:
            table[dist.version] = (rank, link)
    return Evaluation(
        name=page.name,
        index=index,
        candidates=_candidates(page, index, best, policy),
        yanked=_candidates(
            page, index, {v: x for v, x in best_yanked.items() if v not in best}, policy
        ),
        skipped=tuple(skipped),
    )
