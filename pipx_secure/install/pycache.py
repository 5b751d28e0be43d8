"""Writing ``__pycache__`` files beside installed sources, as pip's byte-compilation does.

A ``.pyc`` is a 16-byte header and the marshalled code (PEP 552).  pip compiles with
``py_compile``'s defaults, and so does spip's writer: a *timestamp* header (the installed
source's mtime and size), or a *checked-hash* header when ``SOURCE_DATE_EPOCH`` is set (what
``py_compile`` chooses then).  Either way Python accepts the file as it accepts pip's: the
loader compares the header with the source and uses the code without compiling it.  The file
is written through a temporary name and a rename, with the source's permission bits (plus
owner-write), as ``py_compile`` does.  Then the distribution's RECORD lists each ``.pyc`` with
its hash and size, sorted, as pip's RECORD does.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HEADER_FLAGS_TIMESTAMP = 0
HEADER_FLAGS_CHECKED_HASH = 0b11


@dataclass(frozen=True)
class Compiled:
    """A compilation result: the source's 8-byte hash (PEP 552) and the marshalled code."""

    source_hash: bytes
    code: bytes

    @classmethod
    def from_payload(cls, payload: bytes) -> Compiled | None:
        """Parse ``b"C" + hash + code``; None for anything else (``b"F"``: no code)."""
        if len(payload) < 9 or payload[:1] != b"C":
            return None
        return cls(payload[1:9], payload[9:])


def pyc_path(source: Path, cache_tag: str) -> Path:
    """``pkg/__pycache__/mod.<tag>.pyc`` for ``pkg/mod.py`` (optimization level 0)."""
    return source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"


def pyc_bytes(magic: bytes, compiled: Compiled, source: os.stat_result, checked: bool) -> bytes:
    """The whole ``.pyc``: header (timestamp of ``source``, or its hash) and code."""
    if checked:
        flags = HEADER_FLAGS_CHECKED_HASH.to_bytes(4, "little")
        return magic + flags + compiled.source_hash + compiled.code
    mtime = (int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    size = (source.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    return magic + HEADER_FLAGS_TIMESTAMP.to_bytes(4, "little") + mtime + size + compiled.code


def write_pyc(path: Path, data: bytes, source_mode: int) -> None:
    """Write ``data`` at ``path`` atomically, with the source's mode as py_compile does."""
    path.parent.mkdir(exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, (source_mode | 0o200) & 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def record_row(site: Path, path: Path, data: bytes) -> tuple[str, str, str]:
    """The RECORD row of a file spip wrote under ``site``: relative path, hash, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    relative = posixpath.join(*path.relative_to(site).parts)
    return relative, f"sha256={digest}", str(len(data))


def add_record_rows(record: Path, rows: Iterable[tuple[str, str, str]]) -> None:
    """Add ``rows`` to a RECORD file, in pip's layout: rows sorted, CSV, same line ends."""
    new = list(rows)
    if not new:
        return
    raw = record.read_bytes()
    text = raw.decode("utf-8")
    existing = [tuple(row) for row in csv.reader(io.StringIO(text, newline="")) if row]
    known = {row[0] for row in existing}
    rows_out = [*existing, *(row for row in new if row[0] not in known)]
    was_sorted = existing == sorted(existing)
    if was_sorted:
        rows_out.sort()
    out = io.StringIO(newline="")
    terminator = "\r\n" if b"\r\n" in raw or not raw else "\n"
    csv.writer(out, lineterminator=terminator).writerows(rows_out)
    temp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    temp.write_bytes(out.getvalue().encode("utf-8"))
    os.replace(temp, record)
