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
from packaging.utils import canonicalize_name
from packaging.version import Version

from pipx_secure import __version__
from pipx_secure.errors import InputError, SpipError
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.redact import strip_userinfo
from pipx_secure.model.sourcemap import SourceMap

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


def _same_index(a: str, b: str) -> bool:
    return strip_userinfo(a).rstrip("/") == strip_userinfo(b).rstrip("/")


def check_lock_against_map(lock: Pylock, source_map: SourceMap) -> list[LockFinding]:
    """Packages whose recorded index (or file URLs) disagree with the map's route."""
    findings = []
    for index_position, package in enumerate(lock.packages):
        name = canonicalize_name(package.name)
        route = source_map.index_for(name)
        expected = route.index.url
        where = f"packages[{index_position}]"
        if package.vcs is not None or package.directory is not None or package.archive is not None:
            findings.append(
                LockFinding(
                    name,
                    None,
                    expected,
                    route.index.name,
                    f"{where} {name}: direct (vcs/directory/archive) source is not "
                    f"allowed; the map routes it to {route.index.name}",
                )
            )
            continue
        if package.index is not None and not _same_index(package.index, expected):
            findings.append(
                LockFinding(
                    name,
                    package.index,
                    expected,
                    route.index.name,
                    f"{where} {name}: lock says index {strip_userinfo(package.index)}, "
                    f"the source map routes it to {route.index.name} "
                    f"({route.index.redacted})",
                )
            )
    return findings
