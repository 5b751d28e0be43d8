"""PEP 751 locks (``pylock.toml``) through ``packaging.pylock``.

:func:`plan_to_pylock` turns a plan into a standard lock: every package carries its ``index``
(the credential-free URL of its assigned index), its file's URL, size, upload time and hashes.
Output is deterministic (packages sorted, no timestamps of our own), so re-locking unchanged
inputs rewrites nothing.  :func:`read_pylock` validates a lock from any tool, and
:func:`check_lock_against_map` refuses packages whose index disagrees with the source map.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
from packaging.markers import Marker
from packaging.pylock import (
    Package,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockValidationError,
)
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pipx_secure import __version__
from pipx_secure.errors import InputError, SpipError
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.redact import RedactedUrl, origin_of, strip_userinfo
from pipx_secure.model.sourcemap import Index, SourceMap

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class LockError(InputError):
    """A lock file is malformed or invalid under PEP 751."""


class LockPolicyError(SpipError):
    """A lock's sources break the source map."""

    exit_code = 3


def _upload_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _artifact(pin: Pin) -> PackageWheel | PackageSdist:
    hashes = {pin.digest.algorithm: pin.digest.hexdigest}
    url = strip_userinfo(pin.url)
    upload_time = _upload_time(pin.upload_time)
    if pin.is_wheel:
        return PackageWheel(
            name=pin.filename, url=url, size=pin.size, upload_time=upload_time, hashes=hashes
        )
    return PackageSdist(
        name=pin.filename, url=url, size=pin.size, upload_time=upload_time, hashes=hashes
    )


def plan_to_pylock(plan: Plan, *, requires_python: str | None = None) -> Pylock:
    """A PEP 751 lock of ``plan`` (one environment)."""
    return plans_to_pylock([(None, plan)], requires_python=requires_python)


def plans_to_pylock(
    plans: Sequence[tuple[Marker | None, Plan]], *, requires_python: str | None = None
) -> Pylock:
    """One PEP 751 lock for several environments (``--platform`` / ``--python-version``).

    A project resolved to the same version everywhere becomes one package carrying every
    environment's file (installers pick by wheel tags); a project whose version differs between
    environments gets one package per version, with a marker naming its environments.
    """
    from packaging.specifiers import SpecifierSet

    versions: dict[str, dict[Version, list[tuple[Marker | None, Pin]]]] = {}
    for marker, plan in plans:
        for pin in plan.pins:
            versions.setdefault(pin.name, {}).setdefault(pin.version, []).append((marker, pin))
    packages = []
    for name in sorted(versions):
        by_version = versions[name]
        for version in sorted(by_version):
            entries = by_version[version]
            wheels: dict[str, PackageWheel] = {}
            sdist: PackageSdist | None = None
            for _marker, pin in entries:
                artifact = _artifact(pin)
                if isinstance(artifact, PackageWheel):
                    wheels.setdefault(pin.filename, artifact)
                else:
                    sdist = artifact
            marker = None
            if len(by_version) > 1 or len(entries) < len(plans):
                markers = sorted({str(m) for m, _pin in entries if m is not None})
                if markers:
                    marker = Marker(" or ".join(f"({m})" for m in markers))
            first = entries[0][1]
            packages.append(
                Package(
                    name=first.name,
                    version=version,
                    marker=marker,
                    index=strip_userinfo(first.index_url),
                    wheels=[wheels[k] for k in sorted(wheels)] or None,
                    sdist=sdist,
                )
            )
    environments = [m for m, _plan in plans if m is not None] or None
    lock = Pylock(
        lock_version=Version("1.0"),
        created_by="spip",
        environments=sorted(environments, key=str) if environments else None,
        requires_python=SpecifierSet(requires_python) if requires_python else None,
        packages=packages,
        tool={"spip": {"version": __version__}},
    )
    lock.validate()
    return lock


def dumps(lock: Pylock) -> str:
    """The lock as TOML text (deterministic)."""
    return tomli_w.dumps(dict(lock.to_dict()))


def read_pylock(path: Path) -> Pylock:
    """Load and validate a PEP 751 lock written by any tool."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LockError(f"cannot read lock: {exc.strerror or exc}", location=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"invalid TOML: {exc}", location=str(path)) from None
    return pylock_from_dict(data, str(path))


def pylock_from_dict(data: Mapping[str, Any], origin: str) -> Pylock:
    """Validate a parsed lock; errors carry the PEP 751 key path."""
    try:
        return Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise LockError(
            f"not a valid PEP 751 lock: {exc}", location=origin, hint="regenerate it with spip lock"
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise LockError(f"not a valid PEP 751 lock: {exc}", location=origin) from None


@dataclass(frozen=True)
class LockFinding:
    """A package of a lock that breaks the source map."""

    name: str
    lock_index: str | None
    map_index: str
    map_index_name: str
    message: str
    kind: str = "lock-index"
    """``lock-index`` (its ``index`` key names another index), ``lock-url`` (a file URL off
    the assigned index's origin) or ``lock-direct`` (a vcs, directory or archive source)."""


def _same_index(a: str, b: str) -> bool:
    return strip_userinfo(a).rstrip("/") == strip_userinfo(b).rstrip("/")


def url_on_index(url: str, index: Index) -> bool:
    """Whether a file URL is on ``index``'s origin, or on one of its ``file-hosts`` (https).

    The same origin rule the transport applies to credentials: a lock file URL anywhere
    else did not come from the index the map assigns, whatever its ``index`` key says.
    """
    try:
        scheme, host, port = origin_of(url)
    except ValueError:
        return False
    if (scheme, host, port) == index.origin:
        return True
    return scheme == "https" and host in index.file_hosts


def package_files(package: Package) -> list[tuple[str, PackageWheel | PackageSdist]]:
    """``(key path, file)`` of every wheel and the sdist of ``package``."""
    files: list[tuple[str, PackageWheel | PackageSdist]] = [
        (f"wheels[{n}]", wheel) for n, wheel in enumerate(package.wheels or ())
    ]
    if package.sdist is not None:
        files.append(("sdist", package.sdist))
    return files


def _foreign_url(where: str, package: Package, index: Index) -> str | None:
    """A message naming the first file URL of ``package`` that is off ``index``."""
    for key, artifact in package_files(package):
        if artifact.url is not None and not url_on_index(artifact.url, index):
            said = "its index key agrees" if package.index is not None else "it has no index key"
            return (
                f"{where}.{key} {package.name}: file URL {RedactedUrl(artifact.url)} is not on "
                f"index {index.name} ({index.redacted}) that the source map assigns ({said}); "
                "the file came from another source"
            )
    return None


def _package_finding(where: str, package: Package, index: Index) -> LockFinding | None:
    name = canonicalize_name(package.name)
    if package.vcs is not None or package.directory is not None or package.archive is not None:
        message = (
            f"{where} {name}: direct (vcs/directory/archive) source is not allowed; the map "
            f"routes it to {index.name}"
        )
        return LockFinding(name, None, index.url, index.name, message, "lock-direct")
    if package.index is not None and not _same_index(package.index, index.url):
        message = (
            f"{where} {name}: lock says index {strip_userinfo(package.index)}, the source map "
            f"routes it to {index.name} ({index.redacted})"
        )
        return LockFinding(name, package.index, index.url, index.name, message, "lock-index")
    foreign = _foreign_url(where, package, index)
    if foreign is not None:
        return LockFinding(name, package.index, index.url, index.name, foreign, "lock-url")
    return None


def check_lock_against_map(lock: Pylock, source_map: SourceMap) -> list[LockFinding]:
    """Packages whose ``index`` key or file URLs disagree with the map's route.

    One rule, used by ``spip check`` and ``spip sync`` alike: a package's ``index`` (when
    present) must be its assigned index, and every file URL must be on that index's origin
    (or a ``file-hosts`` host over https), with or without an ``index`` key.  Direct sources
    are refused.
    """
    findings = []
    for position, package in enumerate(lock.packages):
        index = source_map.index_for(package.name).index
        found = _package_finding(f"packages[{position}]", package, index)
        if found is not None:
            findings.append(found)
    return findings


def locked_versions(lock: Pylock, markers: Mapping[str, str]) -> dict[NormalizedName, Version]:
    """Name -> version of every package the lock pins for an environment (any extra or group).

    What ``spip lock`` prefers when it relocks: an existing pin stays unless asked to move.
    """
    environment: dict[str, str | frozenset[str]] = dict(markers)
    environment["extras"] = frozenset(lock.extras or ())
    environment["dependency_groups"] = frozenset(lock.dependency_groups or ())
    found: dict[NormalizedName, Version] = {}
    for package in lock.packages:
        if package.version is None:
            continue
        if package.marker is None or package.marker.evaluate(environment, "lock_file"):
            found[canonicalize_name(package.name)] = package.version
    return found
