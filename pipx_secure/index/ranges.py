"""A wheel's RECORD read with HTTP range requests (RFC 9110 §14), not a full download.

A wheel is a zip file: its central directory sits at the end (APPNOTE.TXT §4.3.16), and names
every member with the offset of its local header.  :func:`remote_record` asks for the last
``TAIL`` bytes (a suffix range), lets :mod:`zipfile` read the directory from them through
:class:`RangeFile` (a seekable file whose missing blocks are fetched on demand), then reads the
``*.dist-info/RECORD`` member, usually already inside the tail.  A server that ignores ``Range``
(answers 200) makes it return None, and the caller downloads the whole wheel instead; a tail
that turns out to be the whole file is returned whole, so the caller can check it against the
index's hash.  Every answer is checked: the ``Content-Range`` must be the range asked for, the
total size the same each time, and zipfile checks the member's CRC.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from pipx_secure.errors import IntegrityError
from pipx_secure.model.records import MalformedRecord, RecordEntry, parse_record

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

TAIL = 16 * 1024
BLOCK = 16 * 1024
MAX_RECORD = 64 * 1024 * 1024
MAX_FETCHED = 256 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$", re.IGNORECASE)


class RangeError(Exception):
    """The range answers cannot be used (the caller falls back to a full download)."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start .. start + len(data) - 1`` of a file of ``total`` bytes."""

    start: int
    data: bytes
    total: int


def parse_content_range(value: str | None, body_length: int) -> tuple[int, int]:
    """(start, total) of a ``Content-Range: bytes a-b/total`` that fits the body."""
    match = _CONTENT_RANGE.match(value or "")
    if match is None:
        raise RangeError(f"unusable Content-Range {value!r}")
    first, last, total = (int(g) for g in match.groups())
    if last < first or last >= total or last - first + 1 != body_length:
        raise RangeError(f"Content-Range {value!r} does not match a {body_length}-byte body")
    return first, total


#: fetch(first, last) -> the bytes first..last inclusive (negative first: a suffix), or None
#: when the server does not support ranges.
Fetch = Callable[[int, int | None], "ByteRange | None"]


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched in blocks as it is read."""

    def __init__(self, fetch: Fetch, first: ByteRange) -> None:
        super().__init__()
        self._fetch = fetch
        self.size = first.total
        self._blocks: list[tuple[int, bytes]] = [(first.start, first.data)]
        self._pos = 0
        self.fetched = len(first.data)
        self.requests = 1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _have(self, pos: int) -> bytes | None:
        for start, data in self._blocks:
            if start <= pos < start + len(data):
                return data[pos - start :]
        return None

    def _load(self, pos: int, wanted: int) -> None:
        end = min(self.size, pos + max(wanted, BLOCK))
        # Stop before the next block already held, to fetch each byte once.
        for start, _data in self._blocks:
            if pos < start < end:
                end = start
        got = self._fetch(pos, end - 1)
        if got is None or got.total != self.size or got.start != pos or not got.data:
            raise RangeError("the server's answer to a range request changed")
        self.fetched += len(got.data)
        self.requests += 1
        if self.fetched > MAX_FETCHED:
            raise RangeError("too many bytes fetched for one RECORD")
        self._blocks.append((pos, got.data))

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self._pos)
        done = 0
        while done < wanted:
            held = self._have(self._pos)
            if held is None:
                self._load(self._pos, wanted - done)
                continue
            part = held[: wanted - done]
            view[done : done + len(part)] = part
            done += len(part)
            self._pos += len(part)
        return done


@dataclass(frozen=True)
class RemoteRecord:
    """What the range requests gave: the RECORD, or the whole file when the tail was all of it."""

    entries: tuple[RecordEntry, ...]
    whole: bytes | None
    fetched: int
    requests: int


def _record_member(archive: zipfile.ZipFile, project: str) -> zipfile.ZipInfo:
    candidates = [
        info
        for info in archive.infolist()
        if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/RECORD")
    ]
    for info in candidates:
        stem = info.filename.split("/", 1)[0][: -len(".dist-info")]
        if canonicalize_name(stem.rpartition("-")[0]) == project:
            return info
    if len(candidates) == 1:
        return candidates[0]
    raise RangeError("the wheel has no RECORD for its project")


def read_record(archive: zipfile.ZipFile, project: str, what: str) -> tuple[RecordEntry, ...]:
    """The RECORD member of a wheel opened as ``archive`` (sizes bounded, CRC checked)."""
    info = _record_member(archive, canonicalize_name(project))
    if info.file_size > MAX_RECORD:
        raise IntegrityError(f"{what}: its RECORD is larger than {MAX_RECORD} bytes; refused")
    try:
        return tuple(parse_record(archive.read(info).decode("utf-8")))
    except (UnicodeDecodeError, MalformedRecord) as exc:
        raise IntegrityError(f"{what}: unreadable RECORD: {exc}") from None


def remote_record(fetch: Fetch, project: str, what: str) -> RemoteRecord | None:
    """The RECORD of the wheel behind ``fetch``, by range requests; None without support."""
    first = fetch(-TAIL, None)
    if first is None:
        return None
    if first.start == 0 and len(first.data) == first.total:
        return RemoteRecord((), first.data, len(first.data), 1)
    remote = RangeFile(fetch, first)
    try:
        with zipfile.ZipFile(remote) as archive:
            entries = read_record(archive, project, what)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise RangeError(f"{what}: not a readable zip through ranges: {exc}") from None
    return RemoteRecord(entries, None, remote.fetched, remote.requests)
