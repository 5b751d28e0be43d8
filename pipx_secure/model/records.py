"""RECORD files (PEP 376, PEP 427): one frozen entry per installed or archived file.

The CSV dialect is read by pypa/installer (``installer.records.parse_record_file``); each row
becomes a :class:`RecordEntry` here, keeping rows whose hash names an unknown algorithm so a
verifier can report them instead of silently skipping them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from installer.records import InvalidRecordEntry, parse_record_file


@dataclass(frozen=True)
class RecordEntry:
    """One row of a RECORD file: path, hash algorithm and urlsafe-base64 digest, size."""

    path: str
    algorithm: str | None
    digest: str | None  # urlsafe base64, unpadded
    size: int | None = None

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` has this entry's digest (ValueError for an unknown algorithm)."""
        if self.algorithm is None or self.digest is None:
            return True
        return record_digest_of(data, self.algorithm) == self.digest


def record_digest_of(data: bytes, algorithm: str) -> str:
    """The RECORD form of a digest: urlsafe base64 without padding."""
    raw = hashlib.new(algorithm, data).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class MalformedRecord(ValueError):
    """A RECORD file that is not PEP 376 CSV (rows of three fields)."""


def parse_record(text: str) -> list[RecordEntry]:
    """Parse RECORD text (CSV: path, algo=digest, size); rows without a path are skipped.

    Raises :class:`MalformedRecord` for a row that does not have three fields.
    """
    rows: list[RecordEntry] = []
    try:
        for path, hash_, size in parse_record_file(r for r in text.splitlines() if r.strip()):
            if not path:
                continue
            algorithm = digest = None
            if "=" in hash_:
                algorithm, _, digest = hash_.partition("=")
            size_value = int(size) if size.isdigit() else None
            rows.append(RecordEntry(path, algorithm, digest, size_value))
    except InvalidRecordEntry as exc:
        raise MalformedRecord(f"malformed RECORD: {'; '.join(exc.issues)}") from None
    return rows


def python_sources(entries: Sequence[RecordEntry]) -> list[str]:
    """The ``.py`` paths a RECORD lists (relative to its site directory)."""
    return [e.path for e in entries if e.path.endswith(".py")]


#: dist-info files an installer writes or rewrites; the wheel's copy never matches them.
INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
#: The ``.data/<scheme>/`` directories of a wheel (PEP 427) and where each is installed.
DATA_SCHEMES = {"purelib": "site", "platlib": "site", "data": "data", "scripts": "scripts"}


def installed_place(wheel_path: str) -> tuple[str, str]:
    """Where a wheel's RECORD path is installed: (root, path relative to that root).

    The root is ``site`` (the site directory), ``data``, ``scripts`` or ``headers`` for the
    ``<name>.data/<scheme>/`` members of PEP 427; every other path is relative to the site
    directory, as RECORD paths are.
    """
    top, sep, rest = wheel_path.partition("/")
    if sep and top.endswith(".data"):
        scheme, _, inner = rest.partition("/")
        return DATA_SCHEMES.get(scheme, "headers"), inner
    return "site", wheel_path


def is_installer_file(path: str) -> bool:
    """Whether ``path`` is a dist-info file the installer writes (RECORD, INSTALLER...)."""
    top, _, leaf = path.partition("/")
    return top.endswith(".dist-info") and leaf in INSTALLER_FILES


def bytecode_name(filename: str) -> tuple[str, str, int] | None:
    """``mod.cpython-311.opt-1.pyc`` -> (``mod``, ``cpython-311``, 1); None if not PEP 3147."""
    if not filename.endswith(".pyc"):
        return None
    parts = filename[: -len(".pyc")].split(".")
    optimize = 0
    if len(parts) >= 3 and parts[-1].startswith("opt-") and parts[-1][4:] in ("1", "2"):
        optimize = int(parts[-1][4:])
        parts = parts[:-1]
    if len(parts) < 2 or not parts[0] or not parts[-1]:
        return None
    return ".".join(parts[:-1]), parts[-1], optimize


def pth_executes(text: str) -> bool:
    """Whether a ``.pth`` file has a line the site module executes (``import`` lines)."""
    return any(line.startswith(("import ", "import\t")) for line in text.splitlines())


def entry_point_scripts(text: str) -> frozenset[str]:
    """The script names an ``entry_points.txt`` declares (console and GUI scripts)."""
    names: set[str] = set()
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section in ("console_scripts", "gui_scripts") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return frozenset(names)
