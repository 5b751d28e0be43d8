"""The audited environment's files: where RECORD paths point, and reading them safely.

RECORD paths are attacker-controlled.  A path is *located* lexically against the directory its
RECORD belongs to and must stay inside one of the environment's install roots: the site
directories, the scripts directory, or the data directory (where a wheel's ``.data/data`` files
go: PEP 427).  Reading then also requires the real path (links resolved) to stay inside those
roots and the file to be a regular file: nothing outside the environment is ever read, no
device or FIFO is opened, and links are not followed out of the tree.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SITE, SCRIPTS, DATA, OUTSIDE = "site", "scripts", "data", "outside"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Located:
    """A file of the environment: its absolute path, its root, and the path inside it."""

    path: str
    root: str
    relative: str


@dataclass(frozen=True)
class Roots:
    """The environment's install roots (real paths), most specific first."""

    sites: tuple[str, ...]
    scripts: str | None
    data: str | None

    @classmethod
    def of(cls, sites: tuple[Path, ...], scripts: Path | None, data: Path | None) -> Roots:
        """Roots from the interpreter's paths (links resolved, duplicates dropped)."""
        real_sites = tuple(dict.fromkeys(os.path.realpath(s) for s in sites))
        return cls(
            real_sites,
            os.path.realpath(scripts) if scripts else None,
            os.path.realpath(data) if data else None,
        )

    def named(self) -> list[tuple[str, str]]:
        """(root kind, directory), the most specific first (data contains the others)."""
        found = [(SITE, s) for s in self.sites]
        if self.scripts:
            found.append((SCRIPTS, self.scripts))
        if self.data:
            found.append((DATA, self.data))
        return found

    def classify(self, path: str) -> Located | None:
        """The root holding ``path`` (absolute, normalized), or None outside every root."""
        for kind, root in self.named():
            if _inside(path, root):
                return Located(path, kind, os.path.relpath(path, root))
        return None

    def locate(self, base: str, relative: str) -> Located | None:
        """A RECORD path of a RECORD in ``base``: located, or None if it leaves the roots."""
        if not relative or "\0" in relative:
            return None
        joined = os.path.normpath(os.path.join(base, relative.replace("/", os.sep)))
        return self.classify(joined)

    def contains_real(self, path: str) -> bool:
        """Whether ``path`` with every link resolved is still inside a root."""
        return self.classify(os.path.realpath(path)) is not None


def record_form(raw: bytes) -> str:
    """A raw digest as RECORD writes it: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Digested:
    """A file's digest in RECORD form, or why it has none."""

    digest: str | None
    problem: str | None = None


@dataclass
class DiskHashes:
    """Digests of the environment's files, each file read at most once per algorithm."""

    roots: Roots
    _memo: dict[tuple[str, str], Digested] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    hashed: int = 0

    def digest(self, path: str, algorithm: str) -> Digested:
        """The RECORD-form digest of ``path`` (thread-safe, memoized)."""
        key = (path, algorithm)
        with self._lock:
            found = self._memo.get(key)
        if found is not None:
            return found
        result = self._compute(path, algorithm)
        with self._lock:
            if key not in self._memo:
                self.hashed += 1
            self._memo[key] = result
        return result

    def _compute(self, path: str, algorithm: str) -> Digested:
        try:
            hasher = hashlib.new(algorithm)
        except ValueError:
            return Digested(None, f"unknown hash {algorithm}")
        if not os.path.lexists(path):
            return Digested(None, "missing")
        if not self.roots.contains_real(path):
            return Digested(None, "links outside the environment; not read")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(os.path.realpath(path), flags)
        except OSError as exc:
            return Digested(None, f"unreadable: {exc.strerror or exc}")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return Digested(None, "not a regular file")
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                hasher.update(chunk)
        except OSError as exc:
            return Digested(None, f"unreadable: {exc.strerror or exc}")
        finally:
            os.close(fd)
        return Digested(record_form(hasher.digest()))


def walk(root: str, skip: tuple[str, ...] = ()) -> Iterator[str]:
    """Every file and link under ``root`` (links are listed, never followed); directories
    in ``skip`` (other roots nested inside this one) are left out."""
    for directory, dirs, files in os.walk(root, followlinks=False):
        kept = []
        for name in sorted(dirs):
            full = os.path.join(directory, name)
            if full in skip:
                continue
            if os.path.islink(full):
                yield full  # a linked directory is an entry of its own, not a tree to enter
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            yield os.path.join(directory, name)


def read_bytes(path: str, roots: Roots, limit: int = 1 << 20) -> bytes | None:
    """The bytes of a regular file inside the roots, if it holds at most ``limit`` bytes."""
    if not roots.contains_real(path):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(os.path.realpath(path), flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(limit + 1)[:limit]
    except OSError:
        return None
    finally:
        os.close(fd)


def read_small(path: str, roots: Roots, limit: int = 1 << 20) -> str | None:
    """The text of a small regular file inside the roots (``.pth``, ``entry_points.txt``)."""
    data = read_bytes(path, roots, limit)
    return None if data is None else data.decode("utf-8", errors="replace")
