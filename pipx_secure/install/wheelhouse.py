"""The one wheelhouse: verified wheels, a pinned requirements file, and the offline installer.

Installs into the target and into build environments go through :func:`install_wheels`: a
temporary directory holding hard links to exactly the given wheels (each re-hashed first), a
requirements file with one ``name==version --hash=...`` line per wheel, and pip (or uv) run
offline over it through the process door.
"""

from __future__ import annotations

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


def _uv(
    python: Path,
    requirements: Path,
    options: PipOptions,
    house: Path,
    uv_cache: Path,
) -> list[str]:
    uv = find_uv()
    if uv is None:
        raise UsageError(
            "--installer uv: no uv binary found",
            hint="pip install uv (beside spip), or use the default pip installer",
        )
    return build_uv_install_args(
        uv=uv,
        target_python=python,
        find_links=[house],
        requirements_file=requirements,
        options=options,
        cache_dir=uv_cache,
    )


STALE_UV_CACHE_SECONDS = 24 * 3600


def _remove_stale_uv_caches(parent: Path) -> None:
    """Per-run uv caches a killed run left behind (a day old: no run lasts that long)."""
    import shutil
    import time

    for stale in parent.glob(".uv-run-*"):
        try:
            old = time.time() - stale.stat().st_mtime > STALE_UV_CACHE_SECONDS
        except OSError:
            continue
        if old:
            shutil.rmtree(stale, ignore_errors=True)


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

    The installer sees a temporary directory of links to exactly these wheels and checks
    each against its ``--hash`` line (pip and uv both hash the file they install).  uv also
    gets a cache of its own for this run, under ``cache_root`` when given.
    """
    with tempfile.TemporaryDirectory(prefix="spip-wheelhouse-") as temp:
        house = Path(temp)
        entries = []
        for wheel in wheels:
            # The installer hashes the file it installs (--require-hashes): these bytes.
            link_or_copy(wheel.path, house / wheel.path.name)
            entries.append(RequirementEntry(wheel.name, wheel.version, wheel.digest))
        requirements = house / "spip-requirements.txt"
        requirements.write_text(render_requirements(entries), encoding="utf-8")
        if options.backend is Backend.UV:
            # uv trusts what it unpacked into its cache without hashing it again, so a cache
            # kept across runs is code anyone who can write it may edit: uv gets a fresh one,
            # beside spip's (same file system, so uv can still link rather than copy).
            parent = cache_root if cache_root is not None else house
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_uv_caches(parent)
            with tempfile.TemporaryDirectory(prefix=".uv-run-", dir=parent) as uv_cache:
                argv = _uv(python, requirements, options, house, Path(uv_cache))
                return processes.run(argv, ChildKind.UV, user_site=user_site)
        argv = build_pip_install_args(
            target_python=python, wheelhouse=house, requirements_file=requirements, options=options
        )
        return processes.run(argv, ChildKind.PIP, user_site=user_site)
