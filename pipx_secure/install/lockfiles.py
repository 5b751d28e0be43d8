"""A lock's files found locally by hash: spip's cache first, then a ``--wheelhouse`` directory.

A lock pins every file by hash, so a local file whose bytes have that hash *is* the locked file,
whatever it is called.  The content-addressed cache is asked by digest (and re-hashes what it
returns); a wheelhouse directory is hashed file by file (names there mean nothing) and each
file the lock needs is copied into the cache, verified, under the lock's normalized file name,
so the installer sees a well-formed name and the next sync finds it in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipx_secure.errors import IntegrityError, UsageError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.model.filenames import normalized_filename
from pipx_secure.model.hashes import CHUNK, Digest
from pipx_secure.resolve.fromlock import LockedFile


@dataclass(frozen=True)
class LocalFiles:
    """Which of a lock's files are here (verified path and digest), and which are not."""

    found: Mapping[LockedFile, tuple[Path, Digest]]
    missing: tuple[LockedFile, ...]


def _hash_file(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    hashers = {a: hashlib.new(a) for a in algorithms}
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def hash_directory(directory: Path, algorithms: Iterable[str]) -> dict[tuple[str, str], Path]:
    """(algorithm, hex digest) -> file, for every regular file directly in ``directory``."""
    if not directory.is_dir():
        raise UsageError(f"--wheelhouse {directory}: not a directory")
    wanted = sorted(set(algorithms))
    table: dict[tuple[str, str], Path] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file():
            for algorithm, value in _hash_file(path, wanted).items():
                table.setdefault((algorithm, value), path)
    return table


def adopt(cache: ArtifactCache, source: Path, digest: Digest, filename: str) -> Path:
    """Copy ``source`` into the cache under ``digest`` (re-hashed while copying)."""
    with cache.lock(digest):
        existing = cache.lookup(digest, filename)
        if existing is not None:
            return existing
        fd, temp = cache.temp_file(digest)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
                shutil.copyfileobj(handle, out, CHUNK)
            actual = _hash_file(temp, [digest.algorithm])[digest.algorithm]
            if not digest.matches(actual):
                raise IntegrityError(f"{source} changed while it was copied into the cache")
            return cache.commit(temp, digest, filename)
        finally:
            temp.unlink(missing_ok=True)


def _in_cache(cache: ArtifactCache, locked: LockedFile) -> tuple[Path, Digest] | None:
    for digest in locked.digests:
        path = cache.find(digest)
        if path is not None:
            return path, digest
    return None


def locate(
    files: Sequence[LockedFile], cache: ArtifactCache, wheelhouse: Path | None = None
) -> LocalFiles:
    """Find each of ``files`` by hash in the cache, then in ``wheelhouse``; nothing is fetched."""
    found: dict[LockedFile, tuple[Path, Digest]] = {}
    pending: list[LockedFile] = []
    for locked in files:
        hit = _in_cache(cache, locked)
        if hit is None:
            pending.append(locked)
        else:
            found[locked] = hit
    if pending and wheelhouse is not None:
        table = hash_directory(wheelhouse, {d.algorithm for f in pending for d in f.digests})
        still: list[LockedFile] = []
        for locked in pending:
            match = next(
                (
                    (table[(d.algorithm, d.hexdigest)], d)
                    for d in locked.digests
                    if (d.algorithm, d.hexdigest) in table
                ),
                None,
            )
            if match is None:
                still.append(locked)
                continue
            source, digest = match
            name = normalized_filename(locked.filename)
            found[locked] = (adopt(cache, source, digest, name), digest)
        pending = still
    return LocalFiles(found, tuple(pending))
