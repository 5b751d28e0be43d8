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
import contextlib
import csv
import hashlib
import io
import os
import posixpath
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HEADER_FLAGS_TIMESTAMP = 0
HEADER_FLAGS_CHECKED_HASH = 0b11


@dataclass(frozen=True)
class Compiled:
    """A compilation result: the source's 8-byte hash (PEP 552) and the marshalled code."""

    source_hash: bytes
    code: bytes | memoryview

    @classmethod
    def from_payload(cls, payload: bytes | memoryview) -> Compiled | None:
        """Parse ``b"C" + hash + code``; None for anything else (``b"F"``: no code).  The
        code stays a view when the payload is one."""
        if len(payload) < 9 or payload[:1] != b"C":
            return None
        return cls(bytes(payload[1:9]), payload[9:])


def pyc_name(source: str, cache_tag: str) -> str:
    """``pkg/__pycache__/mod.<tag>.pyc`` for ``pkg/mod.py`` (optimization level 0; ``/``)."""
    directory, base = posixpath.split(source)
    name = f"__pycache__/{base[:-3] if base.endswith('.py') else base}.{cache_tag}.pyc"
    return f"{directory}/{name}" if directory else name


def pyc_bytes(magic: bytes, compiled: Compiled, source: os.stat_result, checked: bool) -> bytes:
    """The whole ``.pyc``: header (timestamp of ``source``, or its hash) and code."""
    if checked:
        flags = HEADER_FLAGS_CHECKED_HASH.to_bytes(4, "little")
        return magic + flags + compiled.source_hash + compiled.code
    mtime = (int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    size = (source.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    return magic + HEADER_FLAGS_TIMESTAMP.to_bytes(4, "little") + mtime + size + compiled.code


def write_pyc(path: str, data: bytes, source_mode: int) -> None:
    """Write ``data`` at ``path`` atomically (a temporary name, then a rename: an import
    running meanwhile never reads half a file), with the source's mode as py_compile does."""
    temp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, (source_mode | 0o200) & 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.close(fd)
        fd = -1
        os.replace(temp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def record_row(relative: str, data: bytes) -> tuple[str, str, str]:
    """The RECORD row of a file spip wrote (``relative`` to the site directory, ``/``)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
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
