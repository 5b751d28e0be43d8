"""Core metadata of candidates: the resolver's MetadataSource over the transport and builds.

For a wheel: the PEP 658 metadata file (hash-checked), else the cache, else the wheel itself.
For an sdist: its PKG-INFO when it is static per PEP 643, else a build (offline, routed build
dependencies) whose wheel's METADATA is read.  Raw bytes are kept for ``--report``; wheels
built along the way are kept so they are not built twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from pipx_secure.errors import IntegrityError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.transport import Transport, expected_digest
from pipx_secure.install.archives import (
    check_metadata_identity,
    read_sdist_pkg_info,
    read_wheel_metadata,
)
from pipx_secure.install.builder import Builder
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.coremeta import CoreMetadata, is_static, parse_core_metadata
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.hashes import Digest, best_expected
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.models import Candidate


class ArtifactMetadata:
    """Metadata from PEP 658 files, wheels, static PKG-INFO or builds (a MetadataSource)."""

    def __init__(
        self, transport: Transport, cache: ArtifactCache, builder: Builder, depth: int = 0
    ) -> None:
        self.transport = transport
        self.cache = cache
        self.builder = builder
        self.depth = depth
        self.raw: dict[str, bytes] = {}
        self.built: dict[str, WheelFile] = {}
        self._parsed: dict[str, CoreMetadata] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        #: Told of each wheel downloaded (verified) to read its metadata.
        self.on_wheel: Callable[[WheelFile], None] | None = None

    def add(self, digest: Digest, data: bytes, what: str) -> CoreMetadata:
        """Record metadata spip already has (a local project's wheel)."""
        meta = parse_core_metadata(data, what)
        with self._lock:
            self.raw[str(digest)] = data
            self._parsed[str(digest)] = meta
        return meta

    def prefetch(self, candidate: Candidate) -> None:
        """Fetch what :meth:`metadata` will need in the background (errors surface later)."""
        if best_expected(candidate.link.hashes) is None:
            return
        if candidate.link.is_wheel:
            self.transport.submit(_quietly, self.metadata, candidate)
        else:
            self.transport.submit(
                _quietly, self.transport.download, candidate.index, candidate.link
            )

    def speculate(self, candidate: Candidate, then: Callable[[CoreMetadata], None]) -> None:
        """In the background, get a wheel's metadata if that is cheap (spip's cache or a PEP
        658 file: never a whole download or a build), then call ``then`` with it."""
        if candidate.link.is_wheel and best_expected(candidate.link.hashes) is not None:
            self.transport.submit(_quietly, self._speculate, candidate, then)

    def _speculate(self, candidate: Candidate, then: Callable[[CoreMetadata], None]) -> None:
        meta = self._metadata(candidate, fetch_wheel=False)
        if meta is not None:
            then(meta)

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """The candidate's core metadata (memoized by the file's digest)."""
        meta = self._metadata(candidate, fetch_wheel=True)
        if meta is None:  # pragma: no cover - fetch_wheel=True always answers or raises
            raise IntegrityError(f"{candidate.filename}: no metadata")
        return meta

    def _metadata(self, candidate: Candidate, *, fetch_wheel: bool) -> CoreMetadata | None:
        digest = expected_digest(candidate.index, candidate.link)
        key = str(digest)
        found = self._parsed.get(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one reader per file: a prefetch and the resolver share the work
            found = self._parsed.get(key)
            if found is not None:
                return found
            if candidate.link.is_wheel:
                read = self._wheel_metadata(candidate.index, candidate.link, fetch_wheel)
                if read is None:
                    return None
                data, meta = read
            else:
                data, meta = self._sdist_metadata(candidate, digest)
            with self._lock:
                self.raw[key] = data
                self._parsed[key] = meta
            return meta

    def confirm(self, candidate: Candidate, wheel: Path) -> None:
        """The wheel's own METADATA must say what resolution read (PEP 658 file, cache or
        PKG-INFO): the same name, version, dependencies and Requires-Python."""
        key = str(expected_digest(candidate.index, candidate.link))
        used = self.raw.get(key)
        if used is None:
            return
        own = read_wheel_metadata(wheel, wheel.name)
        if own == used:
            return  # the same bytes (read from this wheel before): nothing to compare
        before = parse_core_metadata(used, candidate.filename)
        after = parse_core_metadata(own, wheel.name)
        differences = [
            f"{label}: {a} vs {b}"
            for label, a, b in (
                ("version", before.version, after.version),
                ("Requires-Dist", _requires(before), _requires(after)),
                ("Requires-Python", before.requires_python, after.requires_python),
            )
            if a != b
        ]
        if before.name != after.name or differences:
            raise IntegrityError(
                f"{candidate.filename} from index {candidate.index.name}: the metadata resolution "
                f"used disagrees with the artifact's own METADATA ({'; '.join(differences)})",
                hint="the index published metadata that its file does not carry; nothing was "
                "installed",
            )

    def _wheel_metadata(
        self, index: Index, link: FileLink, fetch_wheel: bool
    ) -> tuple[bytes, CoreMetadata] | None:
        """Sealed cache, else the PEP 658 file, else (``fetch_wheel``) the wheel itself."""
        expected = expected_digest(index, link)
        dist = parse_filename(link.filename)
        cached = self.cache.read_metadata(expected)
        if cached is not None:
            meta = _parsed_if_itself(cached, dist.name, dist.version, link.filename)
            if meta is not None:
                return cached, meta
        data = self.transport.metadata_file(index, link)
        if data is not None:
            # A PEP 658 file must name the project and version of its wheel before it is kept.
            meta = parse_core_metadata(data, f"metadata of {link.filename}")
            _check_identity(meta, dist.name, dist.version, f"metadata of {link.filename}")
        elif not fetch_wheel:
            return None
        else:
            path = self.transport.download(index, link)
            data = read_wheel_metadata(path, link.filename)
            meta = parse_core_metadata(data, link.filename)
            if self.on_wheel is not None:
                self.on_wheel(WheelFile(dist.name, str(dist.version), path, expected))
        self.cache.write_metadata(expected, data)
        return data, meta

    def _sdist_metadata(self, candidate: Candidate, digest: Digest) -> tuple[bytes, CoreMetadata]:
        sdist = self.transport.download(candidate.index, candidate.link)
        cached = self.cache.read_metadata(digest)
        name, version = candidate.name, str(candidate.version)
        if cached is not None and not _names_itself(cached, name, version, candidate.link):
            cached = None
        pkg_info = cached if cached is not None else read_sdist_pkg_info(sdist, candidate.filename)
        if pkg_info is not None:
            check_metadata_identity(pkg_info, name, version, f"PKG-INFO of {candidate.filename}")
        static = parse_core_metadata(pkg_info, candidate.filename) if pkg_info else None
        if pkg_info is not None and static is not None and is_static(static):
            if cached is None:
                self.cache.write_metadata(digest, pkg_info)
            return pkg_info, static
        wheel = self.builder.build_wheel(
            candidate.name, str(candidate.version), sdist, digest, self.depth
        )
        with self._lock:
            self.built[str(digest)] = wheel
        data = read_wheel_metadata(wheel.path, wheel.path.name)
        return data, parse_core_metadata(data, wheel.path.name)


def _requires(meta: CoreMetadata) -> list[str]:
    return sorted(str(r) for r in meta.requires_dist)


def _check_identity(meta: CoreMetadata, name: str, version: Version, what: str) -> None:
    """Refuse metadata whose Name/Version differ from what the file name says."""
    if meta.name != canonicalize_name(name) or meta.version != version:
        raise IntegrityError(
            f"{what}: metadata names {meta.name} {meta.version}, not {name} {version}",
            hint="the artifact's metadata disagrees with its file name; refused",
        )


def _parsed_if_itself(data: bytes, name: str, version: Version, what: str) -> CoreMetadata | None:
    """Cached metadata, parsed, if it names the file's project and version (else None)."""
    try:
        meta = parse_core_metadata(data, what)
        _check_identity(meta, name, version, what)
    except IntegrityError:
        return None
    return meta


def _names_itself(data: bytes, name: str, version: str, link: FileLink) -> bool:
    try:
        check_metadata_identity(data, name, version, link.filename)
    except IntegrityError:
        return False
    return True


def _quietly(function: object, *args: object) -> None:
    """Run a prefetch; its errors surface when the result is really asked for."""
    try:
        if callable(function):
            function(*args)
    except Exception:
        return
