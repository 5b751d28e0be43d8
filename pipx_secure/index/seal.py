"""Seals on cache entries that spip made: an HMAC whose key lives outside the cache.

Who can write spip's cache directory (a CI cache restored from shared storage, another user)
must not be able to make spip install or run what they wrote.  Downloaded artifacts are
checked against the hash their index published; everything else spip stores (core metadata,
built wheels, interpreter facts, cached project pages) carries an HMAC-SHA256 over what it is
and what it says, keyed by a per-user secret in the user's configuration directory (created
with mode 0600 on first use).  An entry whose seal does not verify is discarded and made again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipx_secure.errors import InputError


def default_key_file(environ: Mapping[str, str] | None = None) -> Path:
    """``SPIP_CACHE_KEY_FILE``, else ``cache.key`` in the user's configuration directory."""
    env = os.environ if environ is None else environ
    explicit = env.get("SPIP_CACHE_KEY_FILE")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CONFIG_HOME")
    if base:
        return Path(base) / "spip" / "cache.key"
    from platformdirs import user_config_dir

    return Path(user_config_dir("spip", appauthor=False)) / "cache.key"


def refuse_shared(path: Path, what: str) -> None:
    """Refuse a file or directory that other users can write (or, for a key, read)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    writable_by_others = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    readable_key = what == "cache key" and info.st_mode & (stat.S_IRGRP | stat.S_IROTH)
    other_owner = hasattr(os, "getuid") and info.st_uid not in (os.getuid(), 0)
    if writable_by_others or readable_key or other_owner:
        mode = stat.S_IMODE(info.st_mode)
        raise InputError(
            f"the {what} {path} is shared with other users (mode {mode:o}, owner {info.st_uid}); "
            "refused",
            hint=f"chmod go-rwx {path} (and make it yours), or use another SPIP_CACHE_DIR",
        )


class Sealer:
    """HMAC seals with a key loaded (or created) on first use."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _load(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._read_or_create()
            return self._key

    def _read_or_create(self) -> bytes:
        path = self.key_file
        refuse_shared(path, "cache key")
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            pass
        except ValueError:
            raise InputError(
                f"the cache key {path} is not a key", hint="remove it; spip makes a new one"
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another spip made it meanwhile
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        return key

    def seal(self, purpose: str, *parts: str) -> str:
        """The HMAC (hex) of ``purpose`` and ``parts``."""
        message = "\0".join((purpose, *parts)).encode("utf-8", "surrogateescape")
        return hmac.new(self._load(), message, hashlib.sha256).hexdigest()

    def check(self, mac: str, purpose: str, *parts: str) -> bool:
        """Whether ``mac`` seals ``purpose`` and ``parts`` (constant time)."""
        return hmac.compare_digest(mac, self.seal(purpose, *parts))

    def seal_header(self, purpose: str, key: str, parts: Iterable[bytes | memoryview]) -> bytes:
        """The first line that seals the data made of ``parts``: ``spip-seal <hmac>``."""
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part)
        return f"spip-seal {self.seal(purpose, key, digest.hexdigest())}\n".encode("ascii")

    def seal_bytes(self, purpose: str, key: str, data: bytes) -> bytes:
        """``data`` with a first line that seals it (:meth:`seal_header`)."""
        return self.seal_header(purpose, key, [data]) + data

    def open_view(self, purpose: str, key: str, sealed: bytes) -> memoryview | None:
        """The data of :meth:`seal_bytes` (a view: not copied), or None when the seal does
        not verify."""
        end = sealed.find(b"\n")
        if end < 0 or not sealed.startswith(b"spip-seal "):
            return None
        mac = sealed[len(b"spip-seal ") : end].decode("ascii", "replace")
        data = memoryview(sealed)[end + 1 :]
        if self.check(mac, purpose, key, hashlib.sha256(data).hexdigest()):
            return data
        return None

    def open_bytes(self, purpose: str, key: str, sealed: bytes) -> bytes | None:
        """The data of :meth:`seal_bytes`, or None when the seal does not verify."""
        data = self.open_view(purpose, key, sealed)
        return None if data is None else bytes(data)
