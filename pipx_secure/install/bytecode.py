"""Bytecode once: compiled code kept in spip's cache per wheel, written beside installs.

A wheel's sources compile to the same code wherever they are installed, for one interpreter
(its magic number) and optimization level.  spip therefore keeps the compilation results of
each wheel in its cache as one *pack* (:mod:`pipx_secure.install.bytepack`) under the wheel's
digest (:meth:`ArtifactCache.write_bytecode`), sealed like every other entry spip makes: it is
code, and the cache directory may be written by others.  A bad seal discards the pack (one
warning) and the wheel is compiled again; nothing unsealed is ever written into an environment.
One file per wheel, not per source: a cold install writes and a warm one reads some forty
files instead of thousands.

While wheels arrive (each verified first), :meth:`Bytecode.add_wheel` reads the wheel's pack,
or lists its Python sources and queues them; batches compile in the *target* interpreter
(``-I -S``, :mod:`pipx_secure.install.bytecode_child`) on every core, while other downloads and
the installer run.  Each child reads the verified wheel (checking its digest), compiles the
listed members and writes binary records to a file in a private temporary directory.  After the
installer has put a group of distributions in place, :meth:`Bytecode.write` writes their
``.pyc`` files (:mod:`pipx_secure.install.pycache`) and adds them to RECORD, as pip would have.
The code's recorded file name is the path relative to the site directory; importlib replaces it
with the real path when it loads the file (as it does for any moved ``.pyc``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import posixpath
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.archives import site_path
from pipx_secure.install.bytepack import Entry, MalformedPack, parse, parts
from pipx_secure.install.phases import Phases
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.pycache import Compiled, add_record_rows, pyc_bytes, pyc_name, record_row
from pipx_secure.install.pycache import write_pyc as write_pyc_file
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest
from pipx_secure.model.records import MalformedRecord, parse_record, python_sources

#: Sources per compiling child: few enough children to keep start-up cheap, enough to share.
BATCH = 400
#: What :meth:`Bytecode._write_one` returns when there is nothing to write or list.
NOTHING = ("", "", "")


def _child_script() -> str:
    return (Path(__file__).with_name("bytecode_child.py")).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Job:
    """Work for a compiling child: some members of one verified wheel (``[path, algorithm,
    digest, [[member, name], ...]]``) or installed files (``[path, sha256, name]``)."""

    kind: str
    item: list[Any]
    weight: int


@dataclass(frozen=True)
class Pending:
    """A source whose bytecode was not known when its distribution was written."""

    dist_info: Path
    source: Path
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
        phases: Phases | None = None,
    ) -> None:
        self.python = target.python
        self.phases = phases or Phases()
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
        self._outputs = tempfile.mkdtemp(prefix="spip-bytecode-")  # mode 0700: spip's only
        self._numbers = itertools.count()
        self._pending: list[Job] = []
        self._weight = 0
        self._expected: dict[str, int] = {}  # wheel digest -> how many sources it holds
        self._entries: dict[str, dict[str, Entry]] = {}  # ... -> site path -> compiled
        self._deferred: list[tuple[Path, str]] = []
        self._added: set[str] = set()
        self._cached: set[str] = set()  # wheel digests whose pack the cache holds
        self._jobs: list[Future[int]] = []
        self._scanned: list[Future[None]] = []
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
        shutil.rmtree(self._outputs, ignore_errors=True)

    # -- before the install: read packs, compile what the cache lacks ---------------------
    def add_wheel(self, wheel: WheelFile) -> None:
        """A verified wheel: read its pack, or queue its sources (in the background; once
        per wheel, however often it is added)."""
        with self._lock:
            if str(wheel.digest) in self._added:
                return
            self._added.add(str(wheel.digest))
        self._scanned.append(self._scans.submit(self._scan, wheel))

    def _scan(self, wheel: WheelFile) -> None:
        key = str(wheel.digest)
        if self.cache.has_bytecode(self.flavour, wheel.digest):
            # Read (and its seal checked) only when its .pyc files are written: packs are not
            # all held in memory at once.  A bad one then leaves its sources to complete().
            with self._lock:
                self._cached.add(key)
            return
        # Never seen: the children read the verified wheel, hash and compile each source
        # (the member names come from the zip's directory, its bytes from the child's read).
        try:
            with zipfile.ZipFile(wheel.path) as archive:
                names = [(m, site_path(m)) for m in archive.namelist()]
        except (OSError, zipfile.BadZipFile):
            return
        # One member per site path (a zip may repeat a name: the last one written stays).
        by_site = {s: m for m, s in names if s is not None and s.endswith(".py")}
        members = [[m, s] for s, m in by_site.items()]
        with self._lock:
            self._expected[key] = len(members)
            self._entries[key] = {}
        if not members:
            self._complete(key)
        algorithm, digest = wheel.digest.algorithm, wheel.digest.hexdigest
        self._queue(
            Job("wheels", [str(wheel.path), algorithm, digest, members[i : i + BATCH]], n)
            for i in range(0, len(members), BATCH)
            for n in [len(members[i : i + BATCH])]
        )

    def _pack(self, wheel: Digest) -> dict[str, Entry] | None:
        """The wheel's compiled sources by site path, from its sealed pack (None: absent)."""
        raw = self.cache.read_bytecode(self.flavour, wheel)
        if raw is None:
            return None
        try:
            entries = {e.name: e for e in parse(raw)}
        except MalformedPack:
            return None
        if any(e.key != str(wheel) for e in entries.values()):
            return None
        return entries

    def _complete(self, key: str) -> None:
        """Every source of a wheel compiled: seal its pack."""
        with self._lock:
            entries = list(self._entries.get(key, {}).values())
            self._expected.pop(key, None)
        algorithm, _, digest = key.partition(":")
        self.cache.write_bytecode(self.flavour, Digest(algorithm, digest), parts(entries))

    def _queue(self, jobs: Iterable[Job], *, flush: bool = False) -> None:
        with self._lock:
            for job in jobs:
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
        with self._lock:
            output = f"{self._outputs}/{len(self._jobs)}-{next(self._numbers)}.records"
        request: dict[str, Any] = {"optimize": 0, "output": output, "sources": [], "wheels": []}
        for job in batch:
            request[job.kind].append(job.item)
        with self.phases.span("compile"):
            self.processes.run(
                [str(self.python), "-I", "-S", "-c", _child_script()],
                ChildKind.COMPILE,
                input=json.dumps(request),
            )
        try:
            data = Path(output).read_bytes()
            Path(output).unlink()
        except OSError:
            return 0
        asked = {f"{w[1]}:{w[2]}": {m[1] for m in w[3]} for w in request["wheels"]}
        files = {s[2]: s[1] for s in request["sources"]}
        received = []
        with contextlib.suppress(MalformedPack):
            for entry in parse(data):
                if entry.name in asked.get(entry.key, ()) or (
                    not entry.key and files.get(entry.name) == entry.sha256
                ):
                    received.append(entry)
        return self._received(received)

    def _received(self, received: list[Entry]) -> int:
        done = []
        with self._lock:
            for entry in received:
                entries = self._entries.setdefault(entry.key, {})
                entries[entry.name] = entry
                if len(entries) == self._expected.get(entry.key, -1):
                    done.append(entry.key)
            self.compiled += len(received)
        for key in dict.fromkeys(done):
            self._complete(key)
        return len(received)

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
        """:meth:`write` the distributions whose wheels are all compiled now (while the
        others compile); leave the rest to :meth:`complete`."""
        with self._lock:
            ready = [d for d in dists if self._ready(d[1])]
            self._deferred.extend(d for d in dists if d not in ready)
        return self.write(ready)

    def _ready(self, key: str) -> bool:
        """Whether a wheel's code is all known (cached, or compiled in this run); lock held."""
        return key in self._cached or (key in self._entries and key not in self._expected)

    def write(self, dists: Sequence[tuple[Path, str]]) -> list[Pending]:
        """Write ``.pyc`` files for installed distributions (dist-info, wheel digest) from
        what was compiled or read from the cache; returns the sources still without code."""
        with self._lock:  # each wheel's code is written once, then let go
            jobs = [(d, key, self._entries.pop(key, None)) for d, key in dists]
        # In the calling thread: each system call hands the GIL over, and writer threads only
        # traded it back and forth (measured with four: a futex storm, seconds of system
        # time; two wrote no faster than one).
        pending: list[Pending] = []
        for dist_info, key, compiled in jobs:
            pending += self._write_dist(dist_info, self._known(key, compiled))
        return pending

    def _known(self, key: str, compiled: dict[str, Entry] | None) -> dict[str, Entry]:
        """A wheel's compiled sources: from this run's compilers, else its cached pack."""
        if compiled is not None:
            return compiled
        if key not in self._cached:
            return {}
        algorithm, _, digest = key.partition(":")
        return self._pack(Digest(algorithm, digest)) or {}

    def _write_dist(self, dist_info: Path, known: dict[str, Entry]) -> list[Pending]:
        pending: list[Pending] = []
        rows = []
        site = str(dist_info.parent)
        made: set[str] = set()
        for source, name in installed_sources(dist_info):
            entry = known.get(name)
            if entry is None:
                pending.append(Pending(dist_info, source, name))
                continue
            row = self._write_one(site, name, entry.payload, made)
            if row[0]:
                rows.append(row)
        add_record_rows(dist_info / "RECORD", rows)
        return pending

    def _write_one(
        self, site: str, name: str, payload: bytes | memoryview, made: set[str] | None = None
    ) -> tuple[str, str, str]:
        """Write the ``.pyc`` of the source ``name`` (relative to ``site``); its RECORD row,
        or :data:`NOTHING` when there is nothing to write (the source does not compile, as
        pip skips it too).  ``made``: the ``__pycache__`` directories already checked."""
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
        missing from the installed files themselves (not kept: no whole wheel behind it),
        and write the rest."""
        self.flush()
        pending = list(pending)
        for job in as_completed(list(self._jobs)):  # write each wheel's as it completes
            job.result()
            with self._lock:
                ready = [d for d in self._deferred if self._ready(d[1])]
                self._deferred = [d for d in self._deferred if d not in ready]
            pending += self.write(ready)
        with self._lock:
            deferred, self._deferred = self._deferred, []
        pending += self.write(deferred)
        hashed = [(p, _file_sha256(p.source)) for p in pending]
        jobs = [Job("sources", [str(p.source), sha, p.name], 1) for p, sha in hashed if sha]
        for start in range(0, len(jobs), BATCH):
            self._compile(jobs[start : start + BATCH])
        by_dist: dict[Path, list[tuple[str, str, str]]] = {}
        with self._lock:
            compiled = dict(self._entries.get("", {}))
        for item, sha in hashed:
            entry = compiled.get(item.name)
            if entry is None or entry.sha256 != sha:
                continue
            row = self._write_one(str(item.dist_info.parent), item.name, entry.payload)
            if row[0]:
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
