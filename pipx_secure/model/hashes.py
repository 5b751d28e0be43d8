"""Hashes of artifacts: computed while streaming, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipx_secure.errors import IntegrityError

#: Algorithms accepted from an index, strongest first (PEP 503 names).
SUPPORTED = ("sha512", "sha384", "sha256")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """An algorithm and a lower-case hex digest."""

    algorithm: str
    hexdigest: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"

    def matches(self, other: str) -> bool:
        """Constant-time comparison with a hex digest."""
        return hmac.compare_digest(self.hexdigest, other.lower())


def best_expected(hashes: Mapping[str, str]) -> Digest | None:
    """The strongest supported digest an index published, or None."""
    for algorithm in SUPPORTED:
        value = hashes.get(algorithm)
        if isinstance(value, str) and value:
            return Digest(algorithm, value.lower())
    return None


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    hasher = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def verify_bytes(data: bytes, expected: Digest, what: str) -> None:
    """Raise :class:`IntegrityError` unless ``data`` hashes to ``expected``."""
    actual = hashlib.new(expected.algorithm, data).hexdigest()
    if not expected.matches(actual):
        raise IntegrityError(
            f"hash mismatch for {what}: expected {expected}, got {expected.algorithm}:{actual}",
            hint="the index served different bytes than it published; nothing was installed",
        )
