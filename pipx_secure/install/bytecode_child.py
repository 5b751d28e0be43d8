"""The byte-compiler that runs in the *target* interpreter (``-I -S``, its text passed by -c).

Its input (stdin, JSON): ``{"optimize": 0, "items": [[path, member, sha256, name], ...]}``:
compile the source that is ``member`` of the zip archive ``path`` (or the file ``path`` when
``member`` is null), provided its bytes have ``sha256``, with ``name`` as the code's file name
(the path relative to the site directory; importlib replaces it with the real path on load).
Its output (stdout): one JSON line per item, ``[sha256, payload]`` where the payload is base64
of ``b"C"`` + the 8-byte source hash (for checked-hash pycs) + ``marshal.dumps(code)``, or
``null`` when the source does not compile (pip skips such files too).  An item whose bytes do
not have its hash is left out: only what was asked for is ever compiled under its hash.

Only the standard library, and no syntax newer than Python 3.8: this runs in the target.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
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


def main() -> None:
    request = json.loads(sys.stdin.read())
    optimize = int(request.get("optimize", 0))
    out = sys.stdout
    for digest, name, source in read_items(request["items"]):
        payload = compile_item(source, name, optimize)
        text = None if payload is None else base64.b64encode(payload).decode("ascii")
        out.write(json.dumps([digest, text]) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
