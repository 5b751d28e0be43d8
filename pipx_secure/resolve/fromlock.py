"""A lock's selection for a target, checked against what each assigned index serves now.

Pure given a :class:`~pipx_secure.resolve.protocols.PageSource`: each selected file must be
listed, with the same hash, on the project page of the index the source map assigns to its
name; anything else is refused before anything is installed.
"""

from __future__ import annotations

from packaging.pylock import PackageSdist, PackageWheel, Pylock, PylockSelectError
from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import IntegrityError, PolicyError, ResolutionError
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.hashes import Digest, best_expected
from pipx_secure.model.plan import Plan
from pipx_secure.model.simple_api import FileLink
from pipx_secure.resolve.models import Candidate
from pipx_secure.resolve.planner import Resolution
from pipx_secure.resolve.protocols import PageSource


def _served(pages: PageSource, name: NormalizedName, filename: str) -> FileLink:
    index = pages.index_for(name)
    link = next((f for f in pages.page(name).files if f.filename == filename), None)
    if link is None:
        raise IntegrityError(
            f"{name}: {filename} from the lock is not served by index {index.name} "
            f"({index.redacted})",
            hint="the index no longer has it, or the lock came from another source; re-lock",
        )
    return link


def _check_hashes(
    pages: PageSource, name: NormalizedName, artifact: PackageWheel | PackageSdist, link: FileLink
) -> None:
    index = pages.index_for(name)
    for algorithm, value in artifact.hashes.items():
        published = link.hashes.get(algorithm.lower())
        if published is not None and not Digest(algorithm.lower(), published).matches(value):
            raise IntegrityError(
                f"{name}: the lock's {algorithm} for {artifact.filename} differs from what index "
                f"{index.name} publishes now",
                hint="the file changed on the index since locking; investigate before re-locking",
            )
    if best_expected(link.hashes) is None:
        raise IntegrityError(
            f"{name}: index {index.name} publishes no hash for {artifact.filename}"
        )


def resolution_from_lock(lock: Pylock, pages: PageSource, target: TargetEnvironment) -> Resolution:
    """The lock's selection for ``target``, every file checked against its assigned index."""
    try:
        selected = list(lock.select(environment=target.marker_environment(), tags=target.tags))
    except PylockSelectError as exc:
        raise ResolutionError(f"the lock has nothing installable here: {exc}") from None
    pages.prefetch(canonicalize_name(p.name) for p, _a in selected)
    candidates: dict[NormalizedName, Candidate] = {}
    for package, artifact in selected:
        name = canonicalize_name(package.name)
        if not isinstance(artifact, (PackageWheel, PackageSdist)):
            raise PolicyError(
                f"{name}: the lock selects a direct source; spip installs only from "
                "indexes in the source map"
            )
        link = _served(pages, name, artifact.filename)
        _check_hashes(pages, name, artifact, link)
        version = package.version or parse_filename(artifact.filename).version
        candidates[name] = Candidate(
            name, version, link, pages.index_for(name), frozenset(), artifact.filename
        )
    plan = Plan.from_candidates(candidates.values(), requested=candidates.keys())
    return Resolution(plan, candidates)
