"""The one wheelhouse: verified wheels, a pinned requirements file, and the offline installer.

Installs into the target and into build environments go through :func:`install_wheels`: a
temporary directory holding hard links to exactly the given wheels (each re-hashed first), a
requirements file with one ``name==version --hash=...`` line per wheel, and pip (or uv) run
offline over it through the process door.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.errors import IntegrityError, UsageError
from pipx_secure.fs import link_or_copy
from pipx_secure.install.pipargs import (
    Backend,
    PipOptions,
    RequirementEntry,
    build_pip_install_args,
    build_uv_install_args,
    find_uv,
    render_requirements,
)
from pipx_secure.install.process import ChildKind, Completed, Processes
from pipx_secure.model.hashes import Digest, file_digest


@dataclass(frozen=True)
class WheelFile:
    """A verified wheel ready for installation."""

    name: NormalizedName
    version: str
    path: Path
    digest: Digest

    def verified(self) -> Digest:
        """The digest, after checking the file still has it (cache files can change)."""
        actual = file_digest(self.path, self.digest.algorithm)
        if not self.digest.matches(actual):
            raise IntegrityError(f"{self.path.name} changed in the cache since it was verified")
        return self.digest


def stable_wheelhouse(root: Path, wheel: WheelFile) -> Path:
    """A content-addressed directory holding only ``wheel`` (a hard link to the verified
    file): the same path every run, so uv's cache of local wheels (keyed by path) hits."""
    directory = root / f"{wheel.digest.algorithm}-{wheel.digest.hexdigest}"
    link = directory / wheel.path.name
    try:
        if os.path.samefile(link, wheel.path):
            return directory
    except OSError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{wheel.path.name}.{os.getpid()}.tmp"
    temp.unlink(missing_ok=True)
    link_or_copy(wheel.path, temp)
    if not os.path.samefile(temp, wheel.path):  # a copy (no hard links here): check it too
        WheelFile(wheel.name, wheel.version, temp, wheel.digest).verified()
    os.replace(temp, link)
    return directory


def _uv(
    wheels: Sequence[WheelFile],
    python: Path,
    requirements: Path,
    options: PipOptions,
    cache_root: Path | None,
    uv_cache: Path | None,
) -> list[str]:
    uv = find_uv()
    if uv is None:
        raise UsageError(
            "--installer uv: no uv binary found",
            hint="pip install uv (beside spip), or use the default pip installer",
        )
    if cache_root is None:
        find_links = sorted({wheel.path.parent for wheel in wheels})
    else:
        find_links = [stable_wheelhouse(cache_root / "wheelhouse", wheel) for wheel in wheels]
    return build_uv_install_args(
        uv=uv,
        target_python=python,
        find_links=find_links,
        requirements_file=requirements,
        options=options,
        cache_dir=uv_cache,
    )


def install_wheels(
    wheels: Sequence[WheelFile],
    python: Path,
    options: PipOptions,
    processes: Processes,
    *,
    user_site: bool = False,
    cache_root: Path | None = None,
) -> Completed:
    """Install exactly ``wheels`` into ``python``'s environment, offline, hash-checked.

    pip sees a temporary directory of links to exactly these wheels; uv sees each wheel's
    stable directory under ``cache_root`` (when given) and a cache of its own for this run.
    """
    with tempfile.TemporaryDirectory(prefix="spip-wheelhouse-") as temp:
        house = Path(temp)
        entries = []
        for wheel in wheels:
            if options.backend is Backend.PIP:
                # pip hashes the file it installs (--require-hashes): it checks these bytes.
                link_or_copy(wheel.path, house / wheel.path.name)
                entries.append(RequirementEntry(wheel.name, wheel.version, wheel.digest))
            else:
                entries.append(RequirementEntry(wheel.name, wheel.version, wheel.verified()))
        requirements = house / "spip-requirements.txt"
        requirements.write_text(render_requirements(entries), encoding="utf-8")
        if options.backend is Backend.UV:
            # uv trusts what it unpacked into its cache without hashing it again, so a cache
            # kept across runs is code anyone who can write it may edit: uv gets a fresh one,
            # beside spip's (same file system, so uv can still link rather than copy).
            parent = cache_root if cache_root is not None else house
            parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".uv-run-", dir=parent) as uv_cache:
                argv = _uv(wheels, python, requirements, options, cache_root, Path(uv_cache))
                return processes.run(argv, ChildKind.UV, user_site=user_site)
        argv = build_pip_install_args(
            target_python=python, wheelhouse=house, requirements_file=requirements, options=options
        )
        return processes.run(argv, ChildKind.PIP, user_site=user_site)
