"""A lock's selection for a target, matched to the files each assigned index serves.

Pure given a :class:`~pipx_secure.resolve.protocols.PageSource`.  :func:`select_from_lock`
picks the files a PEP 751 lock selects for the target (extras and dependency groups included)
and refuses an environment the lock does not cover before anything is fetched.
:func:`resolution_from_lock` turns the selection into a plan: a file already verified locally
by the lock's own hash (the cache, a ``--wheelhouse``) needs no index; any other file must be
listed on the project page of the index the source map assigns to its name, matched by hash
first, then by its normalized file name (PEP 427 / PEP 625), with the same hash.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.pylock import PackageSdist, PackageWheel, Pylock, PylockSelectError
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pipx_secure.errors import IntegrityError, PolicyError, ResolutionError, UsageError
from pipx_secure.model.environment import TargetEnvironment, describe_environment
from pipx_secure.model.filenames import normalized_filename, parse_filename
from pipx_secure.model.hashes import SUPPORTED, Digest
from pipx_secure.model.plan import Plan
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.models import Candidate
from pipx_secure.resolve.planner import Resolution
from pipx_secure.resolve.protocols import PageSource


class LockEnvironmentError(ResolutionError):
    """The lock does not cover the target environment (refused before any download)."""


@dataclass(frozen=True)
class LockedFile:
    """One file the lock selects for the target."""

    name: NormalizedName
    version: Version
    filename: str
    """As the lock spells it (its ``name`` key, else the last part of its path or URL)."""
    url: str | None
    hashes: tuple[tuple[str, str], ...]
    """(lower-case algorithm, lower-case hex digest), as the lock gives them."""

    @property
    def digests(self) -> list[Digest]:
        """The lock's hashes spip can verify, strongest first."""
        given = dict(self.hashes)
        return [Digest(a, given[a]) for a in SUPPORTED if a in given]

    def matches(self, hashes: Mapping[str, str]) -> bool:
        """Whether ``hashes`` (an index's) agree with every lock hash of a shared algorithm."""
        shared = [d for d in self.digests if d.algorithm in hashes]
        return bool(shared) and all(d.matches(hashes[d.algorithm]) for d in shared)

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.filename})"


@dataclass(frozen=True)
class Choice:
    """What to install from a lock: extras and dependency groups (PEP 735)."""

    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    all_extras: bool = False
    all_groups: bool = False
    default_groups: bool = True

    def resolve(self, lock: Pylock) -> tuple[frozenset[str], frozenset[str]]:
        """(extras, groups) for ``lock``; undeclared names are a usage error naming them."""
        declared_extras = {canonicalize_name(e) for e in lock.extras or ()}
        declared_groups = {canonicalize_name(g) for g in lock.dependency_groups or ()}
        declared_groups |= {canonicalize_name(g) for g in lock.default_groups or ()}
        extras = declared_extras if self.all_extras else {canonicalize_name(e) for e in self.extras}
        groups = {canonicalize_name(g) for g in self.groups}
        if self.all_groups:
            groups |= declared_groups
        if self.default_groups:
            groups |= {canonicalize_name(g) for g in lock.default_groups or ()}
        for kind, asked, declared in (
            ("extra", extras, declared_extras),
            ("dependency group", groups, declared_groups),
        ):
            unknown = sorted(asked - declared)
            if unknown:
                raise UsageError(
                    f"the lock declares no {kind} {', '.join(unknown)}",
                    hint=f"the lock's {kind}s: {', '.join(sorted(declared)) or '(none)'}",
                )
        return frozenset(extras), frozenset(groups)


def check_coverage(lock: Pylock, target: TargetEnvironment, origin: str) -> None:
    """Refuse a target outside the lock's ``requires-python`` or ``environments``."""
    version = target.python_version
    environment = dict(target.markers)
    covered = lock.requires_python is None or lock.requires_python.contains(
        version, prereleases=True
    )
    if covered and lock.environments is not None:
        covered = any(m.evaluate(environment, "requirement") for m in lock.environments)
    if covered:
        return
    listed = "; ".join(f"{m}" for m in lock.environments or ()) or "(any)"
    raise LockEnvironmentError(
        f"{origin} does not cover this environment ({describe_environment(target)}): its "
        f"requires-python is {lock.requires_python or '(any)'} and its environments are "
        f"[{listed}]",
        hint="relock with this environment declared (environments in the map, or "
        "--python-version/--platform), or sync on a covered one; nothing was downloaded",
    )


def locked_file(package_name: str, version: Version | None, artifact: object) -> LockedFile:
    """One file of a lock package as spip verifies it (refused: direct sources, no hash)."""
    name = canonicalize_name(package_name)
    if not isinstance(artifact, (PackageWheel, PackageSdist)):
        raise PolicyError(
            f"{name}: the lock selects a direct source; spip installs only from indexes in the "
            "source map"
        )
    filename = artifact.filename
    if "/" in filename or "\\" in filename:
        raise IntegrityError(f"{name}: the lock names a file {filename!r} with a path in it")
    found = version or parse_filename(filename).version
    hashes = tuple(sorted((a.lower(), v.lower()) for a, v in artifact.hashes.items()))
    locked = LockedFile(name, found, filename, artifact.url, hashes)
    if not locked.digests:
        raise IntegrityError(
            f"{name}: the lock gives no sha256, sha384 or sha512 hash for {filename}",
            hint="spip installs only files it can verify; relock with spip lock",
        )
    return locked


def select_from_lock(
    lock: Pylock, target: TargetEnvironment, choice: Choice, origin: str
) -> tuple[LockedFile, ...]:
    """The files ``lock`` selects for ``target`` (nothing is fetched)."""
    check_coverage(lock, target, origin)
    extras, groups = choice.resolve(lock)
    try:
        selected = list(
            lock.select(
                environment=target.marker_environment(),
                tags=target.tags,
                extras=extras,
                dependency_groups=groups,
            )
        )
    except PylockSelectError as exc:
        raise LockEnvironmentError(
            f"{origin} has nothing installable for this environment "
            f"({describe_environment(target)}): {exc}",
            hint="relock with this environment declared; nothing was downloaded",
        ) from None
    return tuple(locked_file(p.name, p.version, a) for p, a in selected)


def in_place(
    locked: LockedFile,
    target: TargetEnvironment,
    provenance: Mapping[str, ProvenanceEntry],
    index: Index,
) -> bool:
    """Whether ``locked`` is installed as spip installed it: same version, from ``index``, and
    (when the lock has a sha256) from the same file.  Anything else is reinstalled."""
    if target.installed.get(locked.name) != locked.version:
        return False
    entry = provenance.get(locked.name)
    if entry is None or entry.version != str(locked.version) or entry.index != index.name:
        return False
    sha256 = dict(locked.hashes).get("sha256")
    return sha256 is None or entry.sha256 == sha256


def match_served(files: Sequence[FileLink], locked: LockedFile) -> tuple[str, FileLink | None]:
    """How an index's ``files`` hold ``locked``: ``("hash", link)`` (the same bytes),
    ``("name", link)`` (a file of the same normalized name with other or no hashes) or
    ``("missing", None)``."""
    by_hash = next(
        (f for f in files if locked.matches(f.hashes) and _same_release(f, locked)), None
    )
    if by_hash is not None:
        return "hash", by_hash
    wanted = normalized_filename(locked.filename)
    by_name = next((f for f in files if _same_file(f.filename, wanted)), None)
    return ("name", by_name) if by_name is not None else ("missing", None)


def served_file(pages: PageSource, locked: LockedFile) -> FileLink:
    """The assigned index's file for ``locked``: by hash, else by normalized file name.

    A file found by name must carry the lock's hash (an index that replaced a file is
    refused); a file the index does not list at all is refused.
    """
    index = pages.index_for(locked.name)
    how, link = match_served(pages.page(locked.name).files, locked)
    if how == "hash" and link is not None:
        return link
    if link is None:
        raise IntegrityError(
            f"{locked.name}: {locked.filename} from the lock is not served by index "
            f"{index.name} ({index.redacted}), by hash or by name",
            hint="the index no longer has it, or the lock came from another source; re-lock",
        )
    if not any(d.algorithm in link.hashes for d in locked.digests):
        given = ", ".join(d.algorithm for d in locked.digests)
        published = ", ".join(sorted(link.hashes)) or "none"
        raise IntegrityError(
            f"{locked.name}: index {index.name} publishes no hash spip can compare with the "
            f"lock's for {link.filename} (lock: {given}; index: {published})",
            hint="relock with spip lock, which records the hash the index publishes",
        )
    raise IntegrityError(
        f"{locked.name}: the lock's hash for {locked.filename} differs from what index "
        f"{index.name} publishes now for {link.filename}",
        hint="the file changed on the index since locking; investigate before re-locking",
    )


def _same_release(link: FileLink, locked: LockedFile) -> bool:
    try:
        parsed = parse_filename(link.filename)
    except IntegrityError:
        return False
    return (parsed.name, parsed.version) == (locked.name, locked.version)


def _same_file(filename: str, normalized: str) -> bool:
    try:
        return normalized_filename(filename) == normalized
    except IntegrityError:
        return False


def _local_link(locked: LockedFile, path: Path, digest: Digest) -> FileLink:
    return FileLink(
        filename=path.name,
        url=locked.url or path.as_uri(),
        hashes={digest.algorithm: digest.hexdigest},
    )


def resolution_from_lock(
    files: Sequence[LockedFile],
    pages: PageSource,
    local: Mapping[LockedFile, tuple[Path, Digest]],
    requested: Collection[NormalizedName] = (),
) -> Resolution:
    """The plan of ``files``: local ones as verified, the others matched on their index."""
    pages.prefetch(f.name for f in files if f not in local)
    candidates: dict[NormalizedName, Candidate] = {}
    for locked in files:
        found = local.get(locked)
        link = _local_link(locked, *found) if found is not None else served_file(pages, locked)
        candidates[locked.name] = Candidate(
            locked.name,
            locked.version,
            link,
            pages.index_for(locked.name),
            frozenset(),
            link.filename,
        )
    plan = Plan.from_candidates(candidates.values(), requested=requested or candidates.keys())
    return Resolution(plan, candidates)
