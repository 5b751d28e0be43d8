"""Requirement sources other than an index: local paths, direct archive URLs, git.

Each is a small frozen type that knows, purely, what it needs (checked by :func:`classify`:
a direct URL must be allowed by the map's ``[direct-urls]``, archives need a hash, git
revisions may not look like options) and, through :meth:`LocalSource.prepare`, asks a
:class:`Preparer` (the I/O, in :mod:`pipx_secure.install.preparer`) for a wheel.  The result
carries its PEP 610 record (``packaging.direct_url``).  An index requirement is not a source
here: it is a plain :class:`~pipx_secure.resolve.models.Req`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Union
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.direct_url import ArchiveInfo, DirectUrl, DirInfo, VcsInfo

from pipx_secure.errors import PolicyError
from pipx_secure.model.hashes import SUPPORTED, Digest, file_digest
from pipx_secure.model.redact import strip_userinfo
from pipx_secure.model.reqline import RequirementLine
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.roots import direct_url_allowed

_ARCHIVES = (".whl", ".tar.gz", ".zip")


class Preparer(Protocol):
    """The I/O a local source needs: builds, downloads and clones (all offline-checked)."""

    def wheel_from(self, path: Path, *, editable: bool, location: str) -> Path:
        """A wheel for a project directory, a local sdist, or a local wheel."""

    def archive(self, url: str, digest: Digest, filename: str, location: str) -> Path:
        """A direct-URL archive downloaded (no credentials) and checked against ``digest``."""

    def checkout(self, repository: str, revision: str, location: str) -> tuple[Path, str]:
        """A git clone at ``revision`` (or the default branch): (directory, commit id)."""


@dataclass(frozen=True)
class Prepared:
    """A wheel made from a local source, and the PEP 610 record to write when installed."""

    wheel: Path
    direct_url: DirectUrl


@dataclass(frozen=True)
class LocalPath:
    """A project directory, sdist or wheel on disk (``-e`` for editable projects)."""

    line: RequirementLine
    path: Path
    editable: bool

    def prepare(self, preparer: Preparer) -> Prepared:
        """Build (or take) the wheel; the record names the path (PEP 610 dir/archive info)."""
        if not self.path.exists():
            raise PolicyError(
                f"{self.line.location}: {self.path} does not exist",
                hint="check the path (relative paths are relative to the file)",
            )
        source = self.path.resolve()
        wheel = preparer.wheel_from(source, editable=self.editable, location=self.line.location)
        if source.is_dir():
            info = DirectUrl(url=source.as_uri(), dir_info=DirInfo(editable=self.editable or None))
        else:
            digest = file_digest(source)
            info = DirectUrl(
                url=source.as_uri(), archive_info=ArchiveInfo(hashes={"sha256": digest})
            )
        return Prepared(wheel, info)


@dataclass(frozen=True)
class DirectArchive:
    """``name @ https://host/file.whl#sha256=...``, allowed by the map for that host."""

    line: RequirementLine
    url: str
    digest: Digest
    filename: str

    def prepare(self, preparer: Preparer) -> Prepared:
        """Download, verify, build if it is an sdist; the record carries the URL and hash."""
        archive = preparer.archive(self.url, self.digest, self.filename, self.line.location)
        wheel = preparer.wheel_from(archive, editable=False, location=self.line.location)
        hashes = {self.digest.algorithm: self.digest.hexdigest}
        return Prepared(wheel, DirectUrl(url=self.url, archive_info=ArchiveInfo(hashes=hashes)))


@dataclass(frozen=True)
class GitCheckout:
    """``name @ git+https://host/repo@rev``, allowed by the map for that host."""

    line: RequirementLine
    repository: str
    revision: str

    def prepare(self, preparer: Preparer) -> Prepared:
        """Clone at the revision and build; the record carries the commit (PEP 610)."""
        directory, commit = preparer.checkout(self.repository, self.revision, self.line.location)
        wheel = preparer.wheel_from(directory, editable=False, location=self.line.location)
        vcs = VcsInfo(vcs="git", commit_id=commit, requested_revision=self.revision or None)
        return Prepared(wheel, DirectUrl(url=self.repository, vcs_info=vcs))


LocalSource = Union[LocalPath, DirectArchive, GitCheckout]


def _direct_archive(line: RequirementLine, url: str) -> DirectArchive:
    parts = urlsplit(url)
    filename = unquote(parts.path.rsplit("/", 1)[-1])
    clean = strip_userinfo(url.split("#", 1)[0])
    if parts.scheme not in ("http", "https") or not filename.endswith(_ARCHIVES):
        raise PolicyError(
            f"{line.location}: direct URL {clean} is not an http(s) wheel or sdist, nor a git+ URL",
        )
    expected: list[Digest] = []
    algorithm, _, value = parts.fragment.partition("=")
    if algorithm in SUPPORTED and value:
        expected.append(Digest(algorithm, value.lower()))
    for item in line.hashes:
        algo, _, hexdigest = item.partition(":")
        expected.append(Digest(algo, hexdigest))
    if not expected:
        raise PolicyError(
            f"{line.location}: direct URL {clean} has no hash",
            hint="append #sha256=<digest> to the URL, or add --hash=sha256:<digest>",
        )
    return DirectArchive(line, clean, expected[0], filename)


def _git(line: RequirementLine, url: str) -> GitCheckout:
    """``git+SCHEME://[user@]host/path[@revision][#fragment]``; the user part is dropped."""
    parts = urlsplit(url[len("git+") :].split("#", 1)[0])
    path, at, revision = parts.path.rpartition("@")
    if not at:
        path, revision = parts.path, ""
    repository = strip_userinfo(urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")))
    if revision.startswith("-") or repository.startswith("-") or not parts.scheme:
        raise PolicyError(f"{line.location}: invalid git revision or repository in {url!r}")
    return GitCheckout(line, repository, revision)


def classify(line: RequirementLine, source_map: SourceMap) -> LocalSource | None:
    """The local source ``line`` names, or None for an index requirement (policy checked)."""
    if line.url or (line.requirement is not None and line.requirement.url and not line.path):
        direct_url_allowed(line, source_map)  # raises unless [direct-urls] allows it
        url = line.url or (line.requirement.url if line.requirement else None) or ""
        return _git(line, url) if url.startswith("git+") else _direct_archive(line, url)
    if line.path or line.editable or line.requirement is None:
        if line.path is None:
            raise PolicyError(f"{line.location}: nothing to install")
        return LocalPath(line, Path(line.path), line.editable)
    return None
