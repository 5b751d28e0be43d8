"""Byte-compilation of installed files, over every core.

pip compiles installed modules one file at a time; spip runs pip with ``--no-compile`` and then
compiles exactly the ``.py`` files the new distributions installed (from their RECORD), in the
target interpreter, with a process pool.  The result on disk is the same ``__pycache__`` files
pip writes (default optimization level, timestamp invalidation).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.model.records import MalformedRecord, parse_record, python_sources

_COMPILER = r"""
import json, os, sys, py_compile
from concurrent.futures import ProcessPoolExecutor

def one(path):
    try:
        py_compile.compile(path, doraise=True, quiet=1)
        return None
    except Exception as exc:
        return path

def main():
    files = json.loads(sys.stdin.read())
    workers = min(len(files) // 64 + 1, os.cpu_count() or 1)
    if workers <= 1:
        failed = [f for f in map(one, files) if f]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            failed = [f for f in pool.map(one, files, chunksize=32) if f]
    print(json.dumps({"compiled": len(files) - len(failed), "failed": len(failed)}))

if __name__ == "__main__":
    main()
"""


def python_files(dist_infos: Iterable[Path]) -> list[str]:
    """The installed ``.py`` files listed in the RECORD of each dist-info directory."""
    files: list[str] = []
    for dist_info in dist_infos:
        try:
            text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
            entries = parse_record(text)
        except (OSError, MalformedRecord):
            continue
        site = dist_info.parent.resolve()
        for relative in python_sources(entries):
            path = (site / relative).resolve()
            # Only what lies inside the site directory: a RECORD may name any path.
            if path.is_file() and path.is_relative_to(site):
                files.append(str(path))
    return sorted(set(files))


def compile_files(python: Path, files: list[str], processes: Processes) -> int:
    """Compile ``files`` in the target interpreter in parallel; returns how many compiled."""
    if not files:
        return 0
    done = processes.run(
        [str(python), "-I", "-c", _COMPILER], ChildKind.COMPILE, input=json.dumps(files)
    )
    if not done.ok:
        return 0
    try:
        return int(json.loads(done.stdout.strip().splitlines()[-1])["compiled"])
    except (ValueError, KeyError, IndexError):
        return 0
