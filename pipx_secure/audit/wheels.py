"""The RECORD of the artifact a distribution should be: from the cache, by range, or whole.

Order of preference: a verified wheel already in spip's cache (no network); the RECORD read
with range requests (:mod:`pipx_secure.index.ranges`; a tail that is the whole wheel is
hash-checked like a download); a full, hash-checked download.  ``full_download=True`` skips the
range path: the RECORD then always comes from bytes checked against the index's published hash
(a range read cannot be: the hash covers the whole file).  Every byte fetched is counted.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipx_secure.audit.report import TransferStats
from pipx_secure.errors import IntegrityError, SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.ranges import ByteRange, RangeError, read_record, remote_record
from pipx_secure.index.transport import Transport, expected_digest
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.hashes import Digest, file_digest
from pipx_secure.model.records import RecordEntry
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index


class RecordUnavailable(Exception):
    """The reference RECORD could not be had; the message says why."""


@dataclass(frozen=True)
class Reference:
    """A reference RECORD and where it came from."""

    entries: tuple[RecordEntry, ...]
    source: str  # cache, range, range-whole (the tail was the whole wheel), download, built-wheel
    filename: str
    sha256: str | None


@dataclass
class Transfer:
    """Thread-safe counters of what the audit fetched."""

    stats: TransferStats = field(default_factory=TransferStats)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        """Add to the named counters."""
        with self._lock:
            values = self.stats.to_json()
            for key, value in counts.items():
                values[key] += value
            self.stats = TransferStats(**values)


def _from_zip(data: Path | bytes, project: str, what: str) -> tuple[RecordEntry, ...]:
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as archive:
            return read_record(archive, project, what)
    except (zipfile.BadZipFile, OSError, RangeError) as exc:
        raise RecordUnavailable(f"{what} is not a readable wheel: {exc}") from None
    except IntegrityError as exc:
        raise RecordUnavailable(exc.render()) from None


class WheelRecords:
    """Reference RECORDs of index wheels and of wheels spip built."""

    def __init__(
        self, transport: Transport, cache: ArtifactCache, *, full_download: bool = False
    ) -> None:
        self.transport = transport
        self.cache = cache
        self.full_download = full_download
        self.transfer = Transfer()

    def cached(self, expected: Digest, filename: str) -> Reference | None:
        """The RECORD of a verified wheel already in spip's cache (no network), if any."""
        path = self.cache.lookup(expected, filename)
        if path is None:
            return None
        self.transfer.add(cache_hits=1)
        project = str(parse_filename(filename).name)
        sha256 = expected.hexdigest if expected.algorithm == "sha256" else None
        return Reference(_from_zip(path, project, filename), "cache", filename, sha256)

    def of_index_wheel(self, index: Index, link: FileLink) -> Reference:
        """The RECORD of ``link`` on ``index`` (RecordUnavailable when it cannot be read)."""
        try:
            expected = expected_digest(index, link)
        except IntegrityError as exc:
            raise RecordUnavailable(exc.render()) from None
        sha256 = expected.hexdigest if expected.algorithm == "sha256" else None
        project = str(parse_filename(link.filename).name)
        cached = self.cached(expected, link.filename)
        if cached is not None:
            return cached
        if not self.full_download:
            found = self._by_range(index, link, expected, project)
            if found is not None:
                return Reference(found[0], found[1], link.filename, sha256)
        try:
            path = self.transport.download(index, link)
        except SpipError as exc:
            raise RecordUnavailable(f"cannot fetch the index's wheel: {exc.render()}") from None
        size = path.stat().st_size
        self.transfer.add(downloads=1, download_bytes=size, wheels_bytes=size)
        return Reference(_from_zip(path, project, link.filename), "download", link.filename, sha256)

    def _by_range(
        self, index: Index, link: FileLink, expected: Digest, project: str
    ) -> tuple[tuple[RecordEntry, ...], str] | None:
        counted = [0, 0, 0]  # requests, bytes, the file's size

        def fetch(first: int, last: int | None) -> ByteRange | None:
            got = self.transport.read_range(index, link, first, last)
            if got is not None:
                counted[0] += 1
                counted[1] += len(got.data)
                counted[2] = got.total
            return got

        try:
            remote = remote_record(fetch, project, link.filename)
        except (RangeError, SpipError):
            remote = None
            self.transfer.add(fallbacks=1)
        finally:
            self.transfer.add(range_requests=counted[0], range_bytes=counted[1])
        if remote is None:
            return None
        self.transfer.add(wheels_bytes=counted[2])
        if remote.whole is not None:
            actual = hashlib.new(expected.algorithm, remote.whole).hexdigest()
            if not expected.matches(actual):
                raise RecordUnavailable(
                    f"{link.filename} from index {index.name} does not have the published hash"
                )
            return _from_zip(remote.whole, project, link.filename), "range-whole"
        return remote.entries, "range"

    def of_built_wheel(self, path: Path, sha256: str, project: str) -> Reference:
        """The RECORD of a wheel spip built, if it is still in the cache with its digest."""
        try:
            if not path.is_file() or file_digest(path, "sha256") != sha256:
                raise RecordUnavailable(
                    f"the wheel spip built ({path.name}) is no longer in its cache"
                )
        except OSError as exc:
            raise RecordUnavailable(f"cannot read {path.name}: {exc}") from None
        return Reference(_from_zip(path, project, path.name), "built-wheel", path.name, sha256)
