"""A content-addressed artifact cache, safe for several spip processes at once.

Layout under the cache root (``SPIP_CACHE_DIR`` or platformdirs' user cache dir)::

    artifacts/sha256/ab/<digest>/<filename>   verified downloads
    metadata/sha256/ab/<digest>.metadata      core metadata of an artifact
    built/<sdist digest>/<interpreter>/       wheels built from a verified sdist
    bytecode/<magic>-o<level>/packs/<digest>  a wheel's compiled sources, one pack per wheel
    http/                                     HTTP cache of project pages (CacheControl)
    uv/                                       uv's own cache (``--installer uv``)

A file appears under its digest only after its bytes were hashed while streaming and matched:
downloads go to a temporary file in the same directory and are renamed atomically, and every
read re-hashes it.  Entries spip made itself (metadata, built wheels, interpreter facts, cached
pages and bytecode packs) carry a seal (:mod:`pipx_secure.index.seal`)
checked on every read; one that fails is discarded with one warning and made again.  A
per-digest file lock keeps two processes from downloading the same artifact twice.  Nothing in
the cache carries a credential.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipx_secure.fs import atomic_write
from pipx_secure.index.seal import Sealer, refuse_shared
from pipx_secure.model.hashes import Digest, file_digest


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``SPIP_CACHE_DIR``, else the platform's user cache dir for spip."""
    explicit = (os.environ if environ is None else environ).get("SPIP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("spip", appauthor=False))


class ArtifactCache:
    """Verified artifacts and sealed entries addressed by their digest."""

    def __init__(
        self, root: Path, sealer: Sealer, warn: Callable[[str], None] | None = None
    ) -> None:
        self.root = root
        self.sealer = sealer
        self._warn = warn or (lambda text: None)
        self._warned: set[str] = set()

    def note(self, text: str) -> None:
        """Pass a line on to the user (once)."""
        if text not in self._warned:
            self._warned.add(text)
            self._warn(text)

    def warn(self, what: str, path: Path) -> None:
        """One warning line per discarded entry."""
        if str(path) not in self._warned:
            self._warned.add(str(path))
            self._warn(f"warning: {what} in the cache failed its check and was discarded: {path}")

    def check_permissions(self) -> None:
        """Refuse a cache directory that other users can write (as ssh refuses a shared key)."""
        refuse_shared(self.root, "cache directory")

    def _dir(self, digest: Digest) -> Path:
        h = digest.hexdigest
        return self.root / "artifacts" / digest.algorithm / h[:2] / h

    def artifact_path(self, digest: Digest, filename: str) -> Path:
        """Where the artifact with ``digest`` lives (whether or not it exists yet)."""
        return self._dir(digest) / filename

    def lookup(self, digest: Digest, filename: str) -> Path | None:
        """The cached artifact if present and its bytes still match ``digest``."""
        path = self.artifact_path(digest, filename)
        if not path.is_file():
            return None
        if not digest.matches(file_digest(path, digest.algorithm)):
            path.unlink(missing_ok=True)  # tampered or corrupt: drop it, fetch again
            return None
        return path

    def find(self, digest: Digest) -> Path | None:
        """The cached artifact with ``digest`` under whatever name it was stored, re-hashed."""
        directory = self._dir(digest)
        if not directory.is_dir():
            return None
        for path in sorted(directory.iterdir()):
            if not path.name.startswith(".partial-") and path.is_file():
                found = self.lookup(digest, path.name)
                if found is not None:
                    return found
        return None

    @contextmanager
    def lock(self, digest: Digest) -> Iterator[None]:
        """An inter-process lock for one digest."""
        from filelock import FileLock  # imported when a download needs it, not by a no-op

        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_dir / f"{digest.algorithm}-{digest.hexdigest}.lock"), timeout=600):
            yield

    def temp_file(self, digest: Digest) -> tuple[int, Path]:
        """A new temporary file beside the artifact's final place (same filesystem)."""
        directory = self._dir(digest)
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".partial-", dir=directory)
        return fd, Path(name)

    def clean_partials(self, digest: Digest) -> None:
        """Remove temporary files a killed process left (call while holding the lock)."""
        directory = self._dir(digest)
        if directory.is_dir():
            for stale in directory.glob(".partial-*"):
                stale.unlink(missing_ok=True)

    def commit(self, temp: Path, digest: Digest, filename: str) -> Path:
        """Atomically move a verified temporary file into place."""
        final = self.artifact_path(digest, filename)
        os.replace(temp, final)
        return final

    def metadata_path(self, digest: Digest) -> Path:
        """Where the core metadata for the artifact ``digest`` is kept."""
        h = digest.hexdigest
        return self.root / "metadata" / digest.algorithm / h[:2] / f"{h}.metadata"

    def read_metadata(self, digest: Digest) -> bytes | None:
        """Cached core metadata of an artifact, if any and if its seal verifies."""
        path = self.metadata_path(digest)
        try:
            sealed = path.read_bytes()
        except OSError:
            return None
        data = self.sealer.open_bytes("metadata", str(digest), sealed)
        if data is None:
            path.unlink(missing_ok=True)
            self.warn("core metadata", path)
        return data

    def write_metadata(self, digest: Digest, data: bytes) -> None:
        """Store core metadata atomically, sealed."""
        atomic_write(
            self.metadata_path(digest), self.sealer.seal_bytes("metadata", str(digest), data)
        )

    def seal_built(self, wheel: Path, sdist: Digest, interpreter: str) -> None:
        """Seal a wheel spip built from ``sdist`` (the seal sits beside it)."""
        mac = self.sealer.seal("built", str(sdist), interpreter, wheel.name, file_digest(wheel))
        atomic_write(wheel.with_name(wheel.name + ".seal"), mac + "\n")

    def built_digest(self, wheel: Path, sdist: Digest, interpreter: str) -> Digest | None:
        """The sha256 of a cached built wheel if its seal proves spip built it, else None
        (and the wheel is discarded)."""
        seal = wheel.with_name(wheel.name + ".seal")
        try:
            mac = seal.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            mac = ""
        digest = file_digest(wheel)
        if mac and self.sealer.check(mac, "built", str(sdist), interpreter, wheel.name, digest):
            return Digest("sha256", digest)
        wheel.unlink(missing_ok=True)
        seal.unlink(missing_ok=True)
        self.warn("a built wheel", wheel)
        return None

    def built_dir(self, sdist: Digest, interpreter: str) -> Path:
        """Directory holding wheels built from the sdist ``sdist`` for ``interpreter``."""
        return self.root / "built" / sdist.hexdigest / interpreter

    # -- bytecode: code, so sealed like everything else spip makes --------------------------
    def _pack_path(self, flavour: str, wheel: Digest) -> Path:
        return self.root / "bytecode" / flavour / "packs" / f"{wheel.algorithm}-{wheel.hexdigest}"

    def has_bytecode(self, flavour: str, wheel: Digest) -> bool:
        """Whether a pack exists (not checked: :meth:`read_bytecode` checks its seal)."""
        return self._pack_path(flavour, wheel).is_file()

    def read_bytecode(self, flavour: str, wheel: Digest) -> memoryview | None:
        """The sealed pack of compiled sources of ``wheel`` for ``flavour`` (magic number and
        optimization level), as a view of the file's bytes (packs are large: not copied);
        None when absent or when its seal fails (then it is discarded with a warning, and
        the caller compiles again)."""
        path = self._pack_path(flavour, wheel)
        try:
            sealed = path.read_bytes()
        except OSError:
            return None
        data = self.sealer.open_view("bytecode", f"{flavour}:{wheel}", sealed)
        if data is None:
            path.unlink(missing_ok=True)
            self.warn("bytecode", path)
        return data

    def write_bytecode(
        self, flavour: str, wheel: Digest, parts: Sequence[bytes | memoryview]
    ) -> None:
        """Store the pack of ``wheel``'s compiled sources (the bytes of ``parts``, one after
        another), sealed to its digest and flavour."""
        header = self.sealer.seal_header("bytecode", f"{flavour}:{wheel}", parts)
        atomic_write(self._pack_path(flavour, wheel), [header, *parts])

    def _read_sealed(self, purpose: str, key: str, path: Path) -> bytes | None:
        try:
            sealed = path.read_bytes()
        except OSError:
            return None
        data = self.sealer.open_bytes(purpose, key, sealed)
        if data is None:
            path.unlink(missing_ok=True)
            self.warn(purpose, path)
        return data

    @property
    def uv_dir(self) -> Path:
        """uv's cache (``--installer uv``): beside spip's, not the user's own."""
        return self.root / "uv"

    @property
    def http_dir(self) -> Path:
        """Directory of the HTTP cache for project pages."""
        return self.root / "http"
