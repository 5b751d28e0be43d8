"""Bytecode packs: the compiling child's records, and the sealed cache entry of one wheel.

A record (written by :func:`pipx_secure.install.bytecode_child.record`) is four little-endian
32-bit lengths (key, name, member, payload), then those bytes with the source's sha256 (64 hex
characters) between member and payload.  One wheel's records, joined, are its *pack*: what
spip keeps in its cache, sealed to the wheel's digest, so a warm install reads one file per
wheel instead of one per source.  Parsing never trusts a length: a record that runs past the
end, a name that is not UTF-8 or a hash that is not hex ends the parse as malformed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_HEADER = struct.Struct("<IIII")
_SHA = 64
_HEX = frozenset(b"0123456789abcdef")


class MalformedPack(ValueError):
    """Bytes that are not a sequence of records."""


@dataclass(frozen=True)
class Entry:
    """One compiled source: its wheel (``algorithm:digest``, "" for an installed file), its
    path relative to the site directory, its wheel member, its sha256 and the payload
    (``b"C"`` + source hash + marshalled code, or ``b"F"``: it does not compile)."""

    key: str
    name: str
    member: str
    sha256: str
    payload: bytes | memoryview

    def head(self) -> bytes:
        """The record's bytes before its payload."""
        parts = [p.encode("utf-8", "surrogateescape") for p in (self.key, self.name, self.member)]
        lengths = _HEADER.pack(len(parts[0]), len(parts[1]), len(parts[2]), len(self.payload))
        return lengths + b"".join(parts) + self.sha256.encode("ascii")

    def encode(self) -> bytes:
        """The record's bytes (as the child writes it)."""
        return self.head() + self.payload


def parse(data: bytes | memoryview) -> Iterator[Entry]:
    """The records of ``data``, in order (:class:`MalformedPack` on anything else).  Each
    payload is a view of ``data``, not a copy."""
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        if offset + _HEADER.size > len(view):
            raise MalformedPack("a record header runs past the end")
        lengths = _HEADER.unpack_from(view, offset)
        offset += _HEADER.size
        end = offset + sum(lengths) + _SHA
        if end > len(view):
            raise MalformedPack("a record runs past the end")
        texts = []
        for length in lengths[:3]:
            try:
                texts.append(bytes(view[offset : offset + length]).decode("utf-8"))
            except UnicodeDecodeError:
                raise MalformedPack("a name is not UTF-8") from None
            offset += length
        sha = bytes(view[offset : offset + _SHA])
        if not _HEX.issuperset(sha):
            raise MalformedPack("a source hash is not hex")
        offset += _SHA
        payload = view[offset:end]
        offset = end
        yield Entry(texts[0], texts[1], texts[2], sha.decode("ascii"), payload)


def parts(entries: Iterable[Entry]) -> list[bytes | memoryview]:
    """A pack's bytes, in pieces (the payloads are not copied)."""
    out: list[bytes | memoryview] = []
    for entry in entries:
        out += [entry.head(), entry.payload]
    return out


def join(entries: Iterable[Entry]) -> bytes:
    """A pack's bytes."""
    return b"".join(parts(entries))
