"""RECORD files (PEP 376, PEP 427): one frozen entry per installed or archived file.

The CSV dialect is read by pypa/installer (``installer.records.parse_record_file``); each row
becomes a :class:`RecordEntry` here, keeping rows whose hash names an unknown algorithm so a
verifier can report them instead of silently skipping them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from installer.records import InvalidRecordEntry, parse_record_file


@dataclass(frozen=True)
class RecordEntry:
    """One row of a RECORD file: path, hash algorithm and urlsafe-base64 digest, size."""

    path: str
    algorithm: str | None
    digest: str | None  # urlsafe base64, unpadded
    size: int | None = None

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` has this entry's digest (ValueError for an unknown algorithm)."""
        if self.algorithm is None or self.digest is None:
            return True
        return record_digest_of(data, self.algorithm) == self.digest


def record_digest_of(data: bytes, algorithm: str) -> str:
    """The RECORD form of a digest: urlsafe base64 without padding."""
    raw = hashlib.new(algorithm, data).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class MalformedRecord(ValueError):
    """A RECORD file that is not PEP 376 CSV (rows of three fields)."""


def parse_record(text: str) -> list[RecordEntry]:
    """Parse RECORD text (CSV: path, algo=digest, size); rows without a path are skipped.

    Raises :class:`MalformedRecord` for a row that does not have three fields.
    """
    rows: list[RecordEntry] = []
    try:
        for path, hash_, size in parse_record_file(r for r in text.splitlines() if r.strip()):
            if not path:
                continue
            algorithm = digest = None
            if "=" in hash_:
                algorithm, _, digest = hash_.partition("=")
            size_value = int(size) if size.isdigit() else None
            rows.append(RecordEntry(path, algorithm, digest, size_value))
    except InvalidRecordEntry as exc:
        raise MalformedRecord(f"malformed RECORD: {'; '.join(exc.issues)}") from None
    return rows


def python_sources(entries: Sequence[RecordEntry]) -> list[str]:
    """The ``.py`` paths a RECORD lists (relative to its site directory)."""
    return [e.path for e in entries if e.path.endswith(".py")]
