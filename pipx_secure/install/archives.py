"""Reading wheels and sdists: metadata, RECORD, build-system table, and safe extraction.

Everything an archive says is checked where it is read: a wheel's METADATA must name the
project and version of its file name; an sdist member may not leave the extraction directory
(absolute paths, ``..``, links out of the tree and devices are refused).
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import BuildError, IntegrityError
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.records import RecordEntry, parse_record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"


def _inside(root: Path, candidate: Path) -> bool:
    return str(candidate).startswith(str(root) + os.sep)


def _check_tar(archive: tarfile.TarFile, dest: Path, filename: str) -> None:
    for member in archive.getmembers():
        target = (dest / member.name).resolve()
        if not _inside(dest, target):
            raise IntegrityError(f"sdist {filename} has an unsafe path {member.name!r}")
        if member.isdev() or member.issym() or member.islnk():
            link = (target.parent / member.linkname).resolve()
            if member.isdev() or not _inside(dest, link):
                raise IntegrityError(f"sdist {filename} has an unsafe member {member.name!r}")


def safe_extract(archive_path: Path, dest: Path, filename: str) -> Path:
    """Extract an sdist refusing absolute paths, ``..``, links out of the tree and devices."""
    dest = dest.resolve()
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(archive_path) as archive:
                for name in archive.namelist():
                    if not _inside(dest, (dest / name).resolve()):
                        raise IntegrityError(f"sdist {filename} has an unsafe path {name!r}")
                archive.extractall(dest)
        else:
            with tarfile.open(archive_path, "r:*") as tar:
                _check_tar(tar, dest, filename)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(dest, filter="data")
                else:  # pragma: no cover - old patch releases
                    tar.extractall(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise IntegrityError(f"sdist {filename} cannot be unpacked: {exc}") from None
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


@dataclass(frozen=True)
class BuildSystem:
    """A source tree's ``[build-system]`` (PEP 517/518, with the legacy defaults)."""

    requires: tuple[Requirement, ...]
    backend: str
    backend_path: tuple[str, ...] = ()


def read_build_system(source: Path, what: str) -> BuildSystem:
    """The ``[build-system]`` of a source tree; malformed tables are a BuildError."""
    legacy = BuildSystem(tuple(Requirement(r) for r in LEGACY_REQUIRES), LEGACY_BACKEND)
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return legacy
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"{what}: invalid pyproject.toml: {exc}") from None
    system = data.get("build-system")
    if system is None:
        return legacy
    requires = system.get("requires") if isinstance(system, dict) else None
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildError(f"{what}: [build-system] requires must be a list of strings")
    try:
        parsed = tuple(Requirement(r) for r in requires)
    except InvalidRequirement as exc:
        raise BuildError(f"{what}: invalid build requirement: {exc}") from None
    backend = system.get("build-backend", LEGACY_BACKEND)
    backend_path = system.get("backend-path", [])
    if not isinstance(backend, str) or not isinstance(backend_path, list):
        raise BuildError(f"{what}: invalid build-backend or backend-path")
    return BuildSystem(parsed, backend, tuple(str(p) for p in backend_path))


def _dist_info_member(archive: zipfile.ZipFile, project: str, leaf: str) -> str | None:
    """The ``<name>-<version>.dist-info/<leaf>`` member that belongs to ``project``."""
    for member in archive.namelist():
        if member.count("/") == 1 and member.endswith(f".dist-info/{leaf}"):
            stem = member.split("/", 1)[0][: -len(".dist-info")]
            dist_name, _, _version = stem.rpartition("-")
            if canonicalize_name(dist_name) == project:
                return member
    return None


def read_wheel_metadata(path: Path, filename: str) -> bytes:
    """The METADATA file of a wheel, checked against the wheel's file name."""
    dist = parse_filename(filename)
    try:
        with zipfile.ZipFile(path) as archive:
            member = _dist_info_member(archive, dist.name, "METADATA")
            if member is None:
                raise IntegrityError(
                    f"wheel {filename} has no .dist-info/METADATA for {dist.name}",
                    hint="the wheel is malformed or belongs to another project",
                )
            data = archive.read(member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(f"wheel {filename} cannot be read: {exc}") from None
    check_metadata_identity(data, dist.name, str(dist.version), filename)
    return data


def wheel_record(path: Path) -> list[RecordEntry]:
    """The RECORD inside a wheel (KeyError when it has none)."""
    with zipfile.ZipFile(path) as archive:
        record_name = next(
            (
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
            ),
            None,
        )
        if record_name is None:
            raise KeyError("RECORD")
        return parse_record(archive.read(record_name).decode("utf-8"))


def check_metadata_identity(data: bytes, name: str, version: str, what: str) -> None:
    """Refuse metadata whose Name/Version differ from what the file name says."""
    headers = BytesHeaderParser().parse(io.BytesIO(data))
    meta_name = headers.get("Name", "")
    meta_version = headers.get("Version", "")
    try:
        same_version = Version(meta_version) == Version(version)
    except InvalidVersion:
        same_version = False
    if canonicalize_name(meta_name) != canonicalize_name(name) or not same_version:
        raise IntegrityError(
            f"{what}: metadata names {meta_name} {meta_version}, not {name} {version}",
            hint="the artifact's metadata disagrees with its file name; refused",
        )


def read_sdist_pkg_info(path: Path, filename: str) -> bytes | None:
    """The top-level PKG-INFO of an sdist (.tar.gz or .zip), or None."""
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    if member.count("/") == 1 and member.endswith("/PKG-INFO"):
                        return archive.read(member)
            return None
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                parts = info.name.strip("./").split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and info.isfile():
                    handle = tar.extractfile(info)
                    return handle.read() if handle else None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise IntegrityError(f"sdist {filename} cannot be read: {exc}") from None
    return None


def _escapes(path: str) -> bool:
    """Whether an archive path is absolute or climbs out of the directory it lands in."""
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        return True
    return any(part == ".." for part in path.replace("\\", "/").split("/"))


def check_wheel_paths(path: Path, filename: str) -> list[str]:
    """Refuse a wheel whose members or RECORD name paths outside the install; returns the
    install paths of its files relative to the site directory (purelib/platlib only)."""
    dist = parse_filename(filename)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            record = _dist_info_member(archive, dist.name, "RECORD")
            entries = parse_record(archive.read(record).decode("utf-8")) if record else []
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"wheel {filename} cannot be read: {exc}") from None
    for name in [*members, *(e.path for e in entries)]:
        if _escapes(name):
            raise IntegrityError(
                f"wheel {filename} ({dist.name}) names a path outside the install: {name!r}",
                hint="the wheel is malformed or hostile; nothing was installed",
            )
    return [p for p in (site_path(m) for m in members) if p is not None]


def site_path(member: str) -> str | None:
    """Where a wheel member lands relative to the site directory (None: elsewhere/metadata)."""
    top, _, rest = member.partition("/")
    if top.endswith(".dist-info") or member.endswith("/"):
        return None
    if top.endswith(".data"):
        kind, _, inner = rest.partition("/")
        return inner if kind in ("purelib", "platlib") and inner else None
    return member
