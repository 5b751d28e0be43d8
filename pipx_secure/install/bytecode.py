"""Bytecode once: compiled code kept in spip's cache by source hash, written beside installs.

A source file compiles to the same code wherever it is installed, for one interpreter (its
magic number) and optimization level.  spip therefore keeps each compilation result in its
cache under the sha256 of the source (:meth:`ArtifactCache.write_bytecode`), sealed like every
other entry spip makes: it is code, and the cache directory may be written by others.  A bad
seal discards the entry (one warning) and the source is compiled again; nothing unsealed is
ever written into an environment.

While wheels arrive (each verified first), :meth:`Bytecode.add_wheel` lists a wheel's Python
sources and their hashes (kept, sealed, per wheel digest, so a warm run reads one small file
instead of decompressing the wheel) and queues the sources the cache lacks; batches compile in
the *target* interpreter (``-I -S``, :mod:`pipx_secure.install.bytecode_child`) on every core,
while other downloads and the installer run.  After the installer has put a group of
distributions in place, :meth:`Bytecode.write` writes their ``.pyc`` files
(:mod:`pipx_secure.install.pycache`) and adds them to RECORD, as pip would have.  The code's
recorded file name is the path relative to the site directory; importlib replaces it with the
real path when it loads the file (as it does for any moved ``.pyc``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.archives import site_path
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.pycache import Compiled, add_record_rows, pyc_bytes, pyc_path, record_row
from pipx_secure.install.pycache import write_pyc as write_pyc_file
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.records import MalformedRecord, parse_record, python_sources

#: Sources per compiling child: few enough children to keep start-up cheap, enough to share.
BATCH = 400
Item = list[str]
NOTHING = ("", "", "")  # [archive or file, member or "", sha256, name relative to the site]


def _child_script() -> str:
    return (Path(__file__).with_name("bytecode_child.py")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Pending:
    """A source whose bytecode was not in the cache when its distribution was written."""

    dist_info: Path
    source: Path
    sha256: str
    name: str


class Bytecode:
    """Compile what the cache lacks, early and in parallel; write ``.pyc`` files after."""

    def __init__(
        self,
        target: TargetEnvironment,
        cache: ArtifactCache,
        processes: Processes,
        *,
        workers: int | None = None,
    ) -> None:
        self.python = target.python
        self.magic = bytes.fromhex(target.magic)
        self.tag = target.cache_tag
        self.flavour = f"{target.magic}-o0"
        self.cache = cache
        self.processes = processes
        # py_compile writes checked-hash pycs when SOURCE_DATE_EPOCH is set; so does spip.
        self.checked = bool(processes.environ.get("SOURCE_DATE_EPOCH"))
        self._scans = ThreadPoolExecutor(1, thread_name_prefix="spip-bytecode-scan")
        workers = workers or os.cpu_count() or 1
        self._compiles = ThreadPoolExecutor(workers, thread_name_prefix="spip-bytecode")
        self._lock = threading.Lock()
        self._pending: list[Item] = []
        self._scheduled: set[str] = set()
        self._jobs: list[Future[int]] = []
        self._scanned: list[Future[None]] = []
        self.sources: dict[str, dict[str, str]] = {}  # wheel digest -> site path -> sha256
        self.compiled = 0
        self.written = 0

    @staticmethod
    def possible(target: TargetEnvironment) -> bool:
        """Whether the probe told spip what it needs (magic number, cache tag)."""
        try:
            return bool(target.cache_tag and bytes.fromhex(target.magic))
        except ValueError:
            return False

    def close(self) -> None:
        """Stop the pools (queued work is dropped; call :meth:`finish` first to keep it)."""
        self._scans.shutdown(wait=True, cancel_futures=True)
        self._compiles.shutdown(wait=True, cancel_futures=True)

    # -- before the install: list sources, compile what the cache lacks --------------------
    def add_wheel(self, wheel: WheelFile) -> None:
        """A verified wheel: list its sources and queue those the cache lacks (background)."""
        self._scanned.append(self._scans.submit(self._scan, wheel))

    def _scan(self, wheel: WheelFile) -> None:
        listing = self._listing(wheel)
        with self._lock:
            self.sources[str(wheel.digest)] = {site: sha for site, (_m, sha) in listing.items()}
        self._queue(
            [str(wheel.path), member, sha, site]
            for site, (member, sha) in listing.items()
            if not self.cache.has_bytecode(self.flavour, sha)
        )

    def _listing(self, wheel: WheelFile) -> dict[str, tuple[str, str]]:
        """site path -> (wheel member, sha256) of every ``.py`` the wheel installs there."""
        raw = self.cache.read_sources(self.flavour, wheel.digest)
        if raw is not None:
            try:
                data = json.loads(raw)
                return {str(k): (str(v[0]), str(v[1])) for k, v in data.items()}
            except (ValueError, TypeError, AttributeError, IndexError, KeyError):
                pass
        content = wheel.path.read_bytes()
        # The bytes listed are the verified bytes: hashed here, in memory, then read.
        if not wheel.digest.matches(hashlib.new(wheel.digest.algorithm, content).hexdigest()):
            return {}
        listing: dict[str, tuple[str, str]] = {}
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for member in archive.namelist():
                site = site_path(member)
                if site is not None and site.endswith(".py"):
                    sha = hashlib.sha256(archive.read(member)).hexdigest()
                    listing[site] = (member, sha)
        self.cache.write_sources(self.flavour, wheel.digest, json.dumps(listing).encode())
        return listing

    def _queue(self, items: Iterable[Item], *, flush: bool = False) -> None:
        with self._lock:
            for item in items:
                if item[2] not in self._scheduled:
                    self._scheduled.add(item[2])
                    self._pending.append(item)
            while len(self._pending) >= BATCH or (flush and self._pending):
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                self._jobs.append(self._compiles.submit(self._compile, batch))

    def _compile(self, items: list[Item]) -> int:
        request = {"optimize": 0, "items": [[p, m or None, s, n] for p, m, s, n in items]}
        done = self.processes.run(
            [str(self.python), "-I", "-S", "-c", _child_script()],
            ChildKind.COMPILE,
            input=json.dumps(request),
        )
        asked = {item[2] for item in items}
        count = 0
        for line in done.stdout.splitlines():
            try:
                sha, text = json.loads(line)
                payload = b"F" if text is None else base64.b64decode(text, validate=True)
            except (ValueError, TypeError, binascii.Error):
                continue
            if sha in asked:
                self.cache.write_bytecode(self.flavour, sha, payload)
                count += 1
        with self._lock:
            self.compiled += count
        return count

    def flush(self) -> None:
        """Every wheel was added: compile the rest of the queue too."""
        for scan in self._scanned:
            scan.result()
        self._queue([], flush=True)

    def finish(self) -> None:
        """Wait for every queued compilation."""
        self.flush()
        for job in list(self._jobs):
            job.result()

    # -- after the install: write what the cache has --------------------------------------
    def write(self, dists: Sequence[tuple[Path, str]]) -> list[Pending]:
        """Write ``.pyc`` files for installed distributions (dist-info, wheel digest) from the
        cache; returns the sources whose bytecode is not there yet."""
        pending: list[Pending] = []
        for dist_info, wheel_key in dists:
            with self._lock:
                known = dict(self.sources.get(wheel_key, {}))
            rows = []
            for source, name in _installed_sources(dist_info):
                sha = known.get(name) or _file_sha256(source)
                if sha is None:
                    continue
                row = self._write_one(dist_info.parent, source, sha)
                if row is None:
                    pending.append(Pending(dist_info, source, sha, name))
                elif row[0]:
                    rows.append(row)
            add_record_rows(dist_info / "RECORD", rows)
        return pending

    def _write_one(self, site: Path, source: Path, sha: str) -> tuple[str, str, str] | None:
        """Write one ``.pyc``; its RECORD row, :data:`NOTHING` when there is nothing to write
        (the source does not compile, as pip skips it too), or None when the cache has no
        (valid) entry."""
        payload = self.cache.read_bytecode(self.flavour, sha)
        if payload is None:
            return None
        compiled = Compiled.from_payload(payload)
        if compiled is None:
            return NOTHING
        target = pyc_path(source, self.tag)
        if target.parent.is_symlink():
            return NOTHING  # never write through a link out of the site directory
        try:
            info = source.stat()
            data = pyc_bytes(self.magic, compiled, info, self.checked)
            write_pyc_file(target, data, info.st_mode)
        except OSError:
            return NOTHING
        with self._lock:
            self.written += 1
        return record_row(site, target, data)

    def complete(self, pending: Sequence[Pending]) -> None:
        """Wait for queued compilations, compile what is still missing from the installed
        files themselves, and write the rest."""
        self.finish()
        missing = [
            [str(p.source), "", p.sha256, p.name]
            for p in pending
            if not self.cache.has_bytecode(self.flavour, p.sha256)
        ]
        for start in range(0, len(missing), BATCH):
            self._compile(missing[start : start + BATCH])
        by_dist: dict[Path, list[tuple[str, str, str]]] = {}
        for item in pending:
            row = self._write_one(item.dist_info.parent, item.source, item.sha256)
            if row is not None and row[0]:
                by_dist.setdefault(item.dist_info, []).append(row)
        for dist_info, rows in by_dist.items():
            add_record_rows(dist_info / "RECORD", rows)


def _installed_sources(dist_info: Path) -> list[tuple[Path, str]]:
    """(installed file, path relative to the site directory) of each ``.py`` its RECORD
    lists inside the site directory (a RECORD may name any path: the others are skipped)."""
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
        entries = parse_record(text)
    except (OSError, MalformedRecord):
        return []
    site = dist_info.parent.resolve()
    found = []
    for relative in python_sources(entries):
        path = (site / relative).resolve()
        if path.is_relative_to(site) and path.is_file():
            found.append((path, path.relative_to(site).as_posix()))
    return found


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
