"""The byte-compiler that runs in the *target* interpreter (``-I -S``, its text passed by -c).

Its input (stdin, JSON) has an ``output`` path (a new file in a directory only spip's user can
write) and two lists, either may be empty:

- ``wheels``: ``[path, algorithm, digest, [[member, name], ...]]``: read the whole wheel,
  check it has ``digest`` (the verified wheel, not whatever is at ``path`` now), then hash
  and compile each listed member;
- ``sources``: ``[path, sha256, name]``: compile the installed file ``path``, provided its
  bytes have ``sha256``.

``name`` is the path relative to the site directory, the code's file name (importlib replaces
it with the real path on load).  The output file holds one binary record per source (see
:func:`record`; :mod:`pipx_secure.install.bytepack` reads them): the wheel's
``algorithm:digest`` (empty for a file), ``name``, ``member``, the source's sha256 (hex) and a
payload: ``b"C"`` + the 8-byte source hash (for checked-hash pycs) + ``marshal.dumps(code)``,
or ``b"F"`` when the source does not compile (pip skips such files too).  A source whose bytes
do not have its hash, and a wheel that does not have its digest, give no record.  stdout gets
one line: how many records were written.

Only the standard library, and no syntax newer than Python 3.8: this runs in the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import marshal
import os
import struct
import sys
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

HEADER = struct.Struct("<IIII")
NICENESS = 5


def compile_item(source: bytes, name: str, optimize: int) -> bytes:
    """The payload of one source: its code, or ``b"F"`` when it does not compile."""
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=optimize)
    except Exception:
        return b"F"
    source_hash: bytes = importlib.util.source_hash(source)
    return b"C" + source_hash + marshal.dumps(code)


def record(key: str, name: str, member: str, sha256: str, payload: bytes) -> bytes:
    """One record: four little-endian lengths, then key, name, member, sha256, payload."""
    parts = [p.encode("utf-8", "surrogateescape") for p in (key, name, member)]
    head = HEADER.pack(len(parts[0]), len(parts[1]), len(parts[2]), len(payload))
    return head + b"".join(parts) + sha256.encode("ascii") + payload


def read_wheels(wheels: list[list[Any]]) -> Iterator[tuple[str, str, str, str, bytes]]:
    """(wheel key, name, member, sha256, source) of the listed members of verified wheels."""
    for path, algorithm, digest, members in wheels:
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            continue
        if hashlib.new(algorithm, content).hexdigest() != digest:
            continue
        key = algorithm + ":" + digest
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for member, name in members:
                try:
                    source = archive.read(member)
                except (KeyError, zipfile.BadZipFile, OSError):
                    continue
                yield key, name, member, hashlib.sha256(source).hexdigest(), source


def read_sources(sources: list[list[Any]]) -> Iterator[tuple[str, str, str, str, bytes]]:
    """("", name, "", sha256, source) of each installed file whose bytes have its hash."""
    for path, digest, name in sources:
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError:
            continue
        if hashlib.sha256(source).hexdigest() == digest:
            yield "", name, "", digest, source


def answer(request: dict[str, Any], out: BinaryIO) -> int:
    """Write the records of ``request`` to ``out``; how many."""
    optimize = int(request.get("optimize", 0))
    count = 0
    for found in (read_wheels(request.get("wheels", [])), read_sources(request.get("sources", []))):
        for key, name, member, digest, source in found:
            payload = compile_item(source, name, optimize)
            out.write(record(key, name, member, digest, payload))
            count += 1
    return count


def main() -> None:
    # Background work: the installer, and spip writing the .pyc files of what is already
    # compiled, go first when they want a core; compiling takes the rest.
    with contextlib.suppress(AttributeError, OSError):  # no nice() here
        os.nice(NICENESS)
    request = json.loads(sys.stdin.read())
    with open(request["output"], "xb") as out:
        count = answer(request, out)
    sys.stdout.write(str(count) + "\n")


if __name__ == "__main__":
    main()
