"""The byte-compiler that runs in the *target* interpreter (``-I -S``, its text passed by -c).

Its input (stdin, JSON) has two lists, either may be empty:

- ``sources``: ``[path, member, sha256, name]``: compile the source that is ``member`` of the
  zip archive ``path`` (or the file ``path`` when ``member`` is null), provided its bytes
  have ``sha256``, with ``name`` (the path relative to the site directory) as the code's file
  name (importlib replaces it with the real path on load);
- ``wheels``: ``[path, algorithm, digest, [[member, name], ...]]``: read the whole wheel,
  check it has ``digest`` (the verified wheel, not whatever is at ``path`` now), then hash
  and compile each listed member.

Its output (stdout): one JSON line per source, ``[sha256, payload, wheel, name, member]``
where the payload is base64 of ``b"C"`` + the 8-byte source hash (for checked-hash pycs) +
``marshal.dumps(code)``, or null when the source does not compile (pip skips such files
too); ``wheel`` is ``algorithm:digest`` for a wheel's member (null otherwise).  A source
whose bytes do not have its hash, and a wheel that does not have its digest, give no line.

Only the standard library, and no syntax newer than Python 3.8: this runs in the target.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import itertools
import json
import marshal
import sys
import zipfile
from collections.abc import Iterator
from typing import Any, Optional


def compile_item(source: bytes, name: str, optimize: int) -> Optional[bytes]:
    """The payload of one source (bytes), or None when it does not compile."""
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=optimize)
    except Exception:
        return None
    source_hash: bytes = importlib.util.source_hash(source)
    return b"C" + source_hash + marshal.dumps(code)


def read_items(items: list[list[Any]]) -> Iterator[tuple[str, str, bytes]]:
    """(sha256, name, source) for each item whose bytes have its hash; archives opened once."""
    by_archive: dict[tuple[str, bool], list[tuple[Any, str, str]]] = {}
    for path, member, digest, name in items:
        by_archive.setdefault((path, member is not None), []).append((member, digest, name))
    for (path, is_archive), wanted in sorted(by_archive.items()):
        try:
            archive: Optional[zipfile.ZipFile] = zipfile.ZipFile(path) if is_archive else None
        except (OSError, zipfile.BadZipFile):
            continue
        try:
            for member, digest, name in wanted:
                try:
                    if archive is not None:
                        source = archive.read(member)
                    else:
                        with open(path, "rb") as handle:
                            source = handle.read()
                except (OSError, KeyError, zipfile.BadZipFile):
                    continue
                if hashlib.sha256(source).hexdigest() == digest:
                    yield digest, name, source
        finally:
            if archive is not None:
                archive.close()


def read_wheels(wheels: list[list[Any]]) -> Iterator[tuple[str, str, str, str, bytes]]:
    """(sha256, name, wheel key, member, source) of the listed members of verified wheels."""
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
                yield hashlib.sha256(source).hexdigest(), name, key, member, source


def answer(request: dict[str, Any]) -> Iterator[str]:
    """The output lines for ``request``."""
    optimize = int(request.get("optimize", 0))
    found: Iterator[tuple[str, str, Optional[str], Optional[str], bytes]] = itertools.chain(
        ((d, n, None, None, s) for d, n, s in read_items(request.get("sources", []))),
        read_wheels(request.get("wheels", [])),
    )
    for digest, name, wheel, member, source in found:
        payload = compile_item(source, name, optimize)
        text = None if payload is None else base64.b64encode(payload).decode("ascii")
        yield json.dumps([digest, text, wheel, name, member]) + "\n"


def main() -> None:
    out = sys.stdout
    for line in answer(json.loads(sys.stdin.read())):
        out.write(line)
    out.flush()


if __name__ == "__main__":
    main()
