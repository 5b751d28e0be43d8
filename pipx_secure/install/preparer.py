"""Local sources made real: builds, direct-URL downloads and git clones (the Preparer).

:class:`LocalPreparer` does the I/O that :mod:`pipx_secure.resolve.sources` asks for, and
:meth:`LocalPreparer.artifact` turns a prepared wheel into the one candidate for its name,
checking that the name the user wrote is the project's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from packaging.direct_url import DirectUrl
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from pipx_secure.errors import BuildError, PolicyError
from pipx_secure.index.transport import Transport
from pipx_secure.install.archives import read_wheel_metadata
from pipx_secure.install.builder import Builder
from pipx_secure.install.metadata import ArtifactMetadata
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.hashes import Digest, file_digest
from pipx_secure.model.redact import strip_userinfo
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index, IndexName
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.sources import LocalSource


@dataclass(frozen=True)
class LocalArtifact:
    """A project given as a path or URL: its candidate, its wheel, its PEP 610 record."""

    candidate: Candidate
    wheel: WheelFile
    direct_url: DirectUrl


class LocalPreparer:
    """Builds, downloads and clones for local sources, in a private work directory."""

    def __init__(
        self,
        transport: Transport,
        builder: Builder,
        processes: Processes,
        workdir: Path,
        src_dir: Path | None = None,
    ) -> None:
        self.src_dir = src_dir
        self.transport = transport
        self.builder = builder
        self.processes = processes
        self.workdir = workdir
        self._counter = itertools.count()

    def _fresh(self, prefix: str) -> Path:
        return self.workdir / f"{prefix}-{next(self._counter)}"

    def wheel_from(self, path: Path, *, editable: bool, location: str) -> Path:
        """A wheel for a project directory, a local sdist, or a local wheel."""
        if path.is_dir():
            return self.builder.build_local(path, self._fresh("local"), editable=editable)
        if path.name.endswith(".whl"):
            if editable:
                raise PolicyError(f"{location}: a wheel cannot be installed editable")
            return path
        if path.name.endswith((".tar.gz", ".zip")):
            dist = parse_filename(path.name)
            digest = Digest("sha256", file_digest(path))
            return self.builder.build_wheel(dist.name, str(dist.version), path, digest).path
        raise PolicyError(f"{location}: {path} is not a project directory, wheel or sdist")

    def archive(self, url: str, digest: Digest, filename: str, location: str) -> Path:
        """A direct-URL archive, downloaded without credentials and checked."""
        target = self._fresh("direct") / filename
        target.parent.mkdir(parents=True)
        self.transport.fetch_url(url, digest, target, location)
        return target

    def checkout(self, repository: str, revision: str, location: str) -> tuple[Path, str]:
        """``git clone`` (after ``--``) and ``git checkout REVISION``; returns the commit."""
        checkout = self._fresh("git")
        if self.src_dir is not None:  # pip's --src: checkouts are kept there
            self.src_dir.mkdir(parents=True, exist_ok=True)
            checkout = self.src_dir / checkout.name
        clone = self.processes.run(
            ["git", "clone", "--quiet", "--", repository, str(checkout)], ChildKind.GIT
        )
        if not clone.ok:
            raise BuildError(f"{location}: git clone of {strip_userinfo(repository)} failed")
        if revision:
            switched = self.processes.run(
                ["git", "-C", str(checkout), "checkout", "--quiet", revision], ChildKind.GIT
            )
            if not switched.ok:
                raise BuildError(f"{location}: no revision {revision!r} in the repository")
        head = self.processes.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], ChildKind.GIT)
        return checkout, head.stdout.strip()

    def artifact(self, source: LocalSource, metadata: ArtifactMetadata) -> LocalArtifact:
        """Prepare ``source`` and make its wheel the only candidate for the project's name."""
        prepared = source.prepare(self)
        built = prepared.wheel
        name, version, _build, _tags = parse_wheel_filename(built.name)
        requirement = source.line.requirement
        if requirement is not None and canonicalize_name(requirement.name) != name:
            raise PolicyError(
                f"{source.line.location}: {requirement.name} @ ... is really {name} {version}",
                hint="the name before @ must be the project's name",
            )
        digest = Digest("sha256", file_digest(built))
        metadata.add(digest, read_wheel_metadata(built, built.name), built.name)
        local_index = Index(IndexName("local"), built.parent.resolve().as_uri() + "/")
        link = FileLink(
            filename=built.name, url=built.as_uri(), hashes={"sha256": digest.hexdigest}
        )
        candidate = Candidate(name, version, link, local_index, frozenset(), built.name)
        wheel = WheelFile(name, str(version), built, digest)
        return LocalArtifact(candidate, wheel, prepared.direct_url)


def local_requirement(artifact: LocalArtifact, source: LocalSource) -> Req:
    """The root requirement for a local artifact: its exact version, with the user's extras."""
    requirement = source.line.requirement
    extras = frozenset(canonicalize_name(e) for e in (requirement.extras if requirement else ()))
    version = artifact.candidate.version
    return Req(
        artifact.candidate.name, SpecifierSet(f"=={version}"), extras, source=source.line.location
    )
