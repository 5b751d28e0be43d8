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
import contextlib
import hashlib
import json
import os
import posixpath
import threading
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.archives import site_path
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.pycache import Compiled, add_record_rows, pyc_bytes, pyc_name, record_row
from pipx_secure.install.pycache import write_pyc as write_pyc_file
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest
from pipx_secure.model.records import MalformedRecord, parse_record, python_sources

#: Sources per compiling child: few enough children to keep start-up cheap, enough to share.
BATCH = 400
#: Threads writing ``.pyc`` files (system calls, mostly: the GIL is released).
WRITERS = 4
#: What :meth:`Bytecode._write_one` returns when there is nothing to write or list.
NOTHING = ("", "", "")


def _child_script() -> str:
    return (Path(__file__).with_name("bytecode_child.py")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Job:
    """Work for a compiling child: ``sources`` items, or one ``wheels`` item (a verified
    wheel and some of its members); ``weight`` is how many sources."""

    kind: str
    items: list[list[Any]]
    weight: int


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
        self._pending: list[Job] = []
        self._weight = 0
        self._scheduled: set[str] = set()
        self._expected: dict[str, set[str]] = {}  # wheel digest -> its sources' site paths
        self._partial: dict[str, dict[str, tuple[str, str]]] = {}  # ... -> compiled so far
        self._deferred: list[tuple[Path, str]] = []
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
        """A verified wheel: queue the sources the cache lacks (listed in the background)."""
        self._scanned.append(self._scans.submit(self._scan, wheel))

    def _scan(self, wheel: WheelFile) -> None:
        key = str(wheel.digest)
        listing = self._listing(wheel)
        if listing is not None:
            with self._lock:
                self.sources[key] = {site: sha for site, (_m, sha) in listing.items()}
            missing = [
                Job("sources", [[str(wheel.path), m, sha, site]], 1)
                for site, (m, sha) in listing.items()
                if not self.cache.has_bytecode(self.flavour, sha)
            ]
            self._queue(missing)
            return
        # Never seen: the children read the verified wheel, hash and compile each source
        # (the member names come from the zip's directory, its bytes from the child's read).
        try:
            with zipfile.ZipFile(wheel.path) as archive:
                names = [(m, site_path(m)) for m in archive.namelist()]
        except (OSError, zipfile.BadZipFile):
            return
        members = [[m, s] for m, s in names if s is not None and s.endswith(".py")]
        with self._lock:
            self._expected[key] = {s for _m, s in members}
            self._partial[key] = {}
        if not members:
            self._complete(key)
        algorithm, digest = wheel.digest.algorithm, wheel.digest.hexdigest
        self._queue(
            Job("wheels", [[str(wheel.path), algorithm, digest, members[i : i + BATCH]]], n)
            for i in range(0, len(members), BATCH)
            for n in [len(members[i : i + BATCH])]
        )

    def _listing(self, wheel: WheelFile) -> dict[str, tuple[str, str]] | None:
        """site path -> (wheel member, sha256) of every ``.py`` the wheel installs there, as
        sealed in the cache the first time the wheel was compiled (None: not known yet)."""
        raw = self.cache.read_sources(self.flavour, wheel.digest)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return {str(k): (str(v[0]), str(v[1])) for k, v in data.items()}
        except (ValueError, TypeError, AttributeError, IndexError, KeyError):
            return None

    def _complete(self, key: str) -> None:
        """Every source of a wheel compiled: seal its list of sources."""
        with self._lock:
            listing = self._partial.pop(key, {})
            self._expected.pop(key, None)
            self.sources[key] = {site: sha for site, (_m, sha) in listing.items()}
        algorithm, _, digest = key.partition(":")
        self.cache.write_sources(
            self.flavour, Digest(algorithm, digest), json.dumps(listing).encode()
        )

    def _queue(self, jobs: Iterable[Job], *, flush: bool = False) -> None:
        with self._lock:
            for job in jobs:
                if job.kind == "sources":
                    sha = job.items[0][2]
                    if sha in self._scheduled:
                        continue
                    self._scheduled.add(sha)
                self._pending.append(job)
                self._weight += job.weight
            while self._weight >= BATCH or (flush and self._pending):
                batch: list[Job] = []
                weight = 0
                while self._pending and (weight < BATCH or not batch):
                    job = self._pending.pop(0)
                    batch.append(job)
                    weight += job.weight
                self._weight -= weight
                self._jobs.append(self._compiles.submit(self._compile, batch))

    def _compile(self, batch: list[Job]) -> int:
        request: dict[str, Any] = {"optimize": 0, "sources": [], "wheels": []}
        for job in batch:
            request[job.kind].extend(job.items)
        done = self.processes.run(
            [str(self.python), "-I", "-S", "-c", _child_script()],
            ChildKind.COMPILE,
            input=json.dumps(request),
        )
        asked = {item[2] for item in request["sources"]}
        wheels = {f"{w[1]}:{w[2]}": {m[1] for m in w[3]} for w in request["wheels"]}
        count = 0
        for line in done.stdout.splitlines():
            try:
                sha, text, wheel, name, member = json.loads(line)
                payload = b"F" if text is None else base64.b64decode(text, validate=True)
            except (ValueError, TypeError, binascii.Error):
                continue
            if not isinstance(sha, str) or len(sha) != 64:
                continue
            if wheel is None and sha not in asked:
                continue
            if wheel is not None and name not in wheels.get(wheel, ()):
                continue
            if not self.cache.has_bytecode(self.flavour, sha):
                self.cache.write_bytecode(self.flavour, sha, payload)
            count += 1
            if wheel is not None:
                self._received(wheel, name, member, sha)
        with self._lock:
            self.compiled += count
        return count

    def _received(self, key: str, name: str, member: str, sha: str) -> None:
        with self._lock:
            partial = self._partial.get(key)
            if partial is None:
                return
            partial[name] = (member, sha)
            done = len(partial) == len(self._expected.get(key, ()))
        if done:
            self._complete(key)

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

    def busy(self) -> bool:
        """Whether compilations are queued or running (a cold install)."""
        with self._lock:
            return bool(self._pending) or any(not job.done() for job in self._jobs)

    # -- after the install: write what the cache has --------------------------------------
    def write_or_defer(self, dists: Sequence[tuple[Path, str]]) -> list[Pending]:
        """:meth:`write` now when nothing is being compiled; otherwise leave ``dists`` to
        :meth:`complete` (then their sources' lists are known: no installed file is hashed)."""
        if self.busy():
            with self._lock:
                self._deferred.extend(dists)
            return []
        return self.write(dists)

    def write(self, dists: Sequence[tuple[Path, str]]) -> list[Pending]:
        """Write ``.pyc`` files for installed distributions (dist-info, wheel digest) from the
        cache; returns the sources whose bytecode is not there yet."""
        jobs = []
        for dist_info, wheel_key in dists:
            with self._lock:
                known = dict(self.sources.get(wheel_key, {}))
            jobs.append((dist_info, known))
        with ThreadPoolExecutor(WRITERS, thread_name_prefix="spip-pyc") as pool:
            results = list(pool.map(lambda job: self._write_dist(*job), jobs))
        return [item for pending in results for item in pending]

    def _write_dist(self, dist_info: Path, known: dict[str, str]) -> list[Pending]:
        pending: list[Pending] = []
        rows = []
        site = str(dist_info.parent)
        made: set[str] = set()
        for source, name in installed_sources(dist_info):
            sha = known.get(name) or _file_sha256(source)
            if sha is None:
                continue
            row = self._write_one(site, name, sha, made)
            if row is None:
                pending.append(Pending(dist_info, source, sha, name))
            elif row[0]:
                rows.append(row)
        add_record_rows(dist_info / "RECORD", rows)
        return pending

    def _write_one(
        self, site: str, name: str, sha: str, made: set[str] | None = None
    ) -> tuple[str, str, str] | None:
        """Write the ``.pyc`` of the source ``name`` (relative to ``site``); its RECORD row,
        :data:`NOTHING` when there is nothing to write (the source does not compile, as pip
        skips it too), or None when the cache has no (valid) entry.  ``made``: the
        ``__pycache__`` directories already checked."""
        payload = self.cache.read_bytecode(self.flavour, sha)
        if payload is None:
            return None
        compiled = Compiled.from_payload(payload)
        if compiled is None:
            return NOTHING
        relative = pyc_name(name, self.tag)
        target = f"{site}/{relative}"
        directory = target.rsplit("/", 1)[0]
        try:
            if made is None or directory not in made:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(directory)
                if os.path.islink(directory):
                    return NOTHING  # never write through a link out of the site directory
                if made is not None:
                    made.add(directory)
            info = os.stat(f"{site}/{name}")
            data = pyc_bytes(self.magic, compiled, info, self.checked)
            write_pyc_file(target, data, info.st_mode)
        except OSError:
            return NOTHING
        with self._lock:
            self.written += 1
        return record_row(relative, data)

    def complete(self, pending: Sequence[Pending]) -> None:
        """Wait for queued compilations, write what was deferred, compile what is still
        missing from the installed files themselves, and write the rest."""
        self.finish()
        with self._lock:
            deferred, self._deferred = self._deferred, []
        pending = [*pending, *self.write(deferred)]
        missing = [
            Job("sources", [[str(p.source), None, p.sha256, p.name]], 1)
            for p in pending
            if not self.cache.has_bytecode(self.flavour, p.sha256)
        ]
        for start in range(0, len(missing), BATCH):
            self._compile(missing[start : start + BATCH])
        by_dist: dict[Path, list[tuple[str, str, str]]] = {}
        for item in pending:
            row = self._write_one(str(item.dist_info.parent), item.name, item.sha256)
            if row is not None and row[0]:
                by_dist.setdefault(item.dist_info, []).append(row)
        for dist_info, rows in by_dist.items():
            add_record_rows(dist_info / "RECORD", rows)


def installed_sources(dist_info: Path) -> list[tuple[Path, str]]:
    """(installed file, path relative to the site directory) of each ``.py`` its RECORD
    lists inside the site directory.  A RECORD may name any path: each is checked lexically,
    and each directory's real path once (a link out of the site directory is skipped)."""
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
        entries = parse_record(text)
    except (OSError, MalformedRecord):
        return []
    site = dist_info.parent
    real_site = os.path.realpath(site)
    inside: dict[str, bool] = {}
    found = []
    for relative in python_sources(entries):
        name = posixpath.normpath(relative)
        if name.startswith(("../", "/")) or name == ".." or "\\" in name:
            continue
        directory = posixpath.dirname(name)
        if directory not in inside:
            real = os.path.realpath(site / directory)
            inside[directory] = real == real_site or real.startswith(real_site + os.sep)
        path = site / name
        if inside[directory] and not path.is_symlink():
            found.append((path, name))
    return found


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
