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


def _argv(
    python: Path, house: Path, requirements: Path, options: PipOptions
) -> tuple[list[str], ChildKind]:
    if options.backend is Backend.UV:
        uv = find_uv()
        if uv is None:
            raise UsageError(
                "--installer uv: no uv binary found",
                hint="pip install uv (beside spip), or use the default pip installer",
            )
        argv = build_uv_install_args(
            uv=uv,
            target_python=python,
            wheelhouse=house,
            requirements_file=requirements,
            options=options,
        )
        return argv, ChildKind.UV
    argv = build_pip_install_args(
        target_python=python, wheelhouse=house, requirements_file=requirements, options=options
    )
    return argv, ChildKind.PIP


def install_wheels(
    wheels: Sequence[WheelFile],
    python: Path,
    options: PipOptions,
    processes: Processes,
    *,
    user_site: bool = False,
) -> Completed:
    """Install exactly ``wheels`` into ``python``'s environment, offline, hash-checked."""
    with tempfile.TemporaryDirectory(prefix="spip-wheelhouse-") as temp:
        house = Path(temp)
        entries = []
        for wheel in wheels:
            link_or_copy(wheel.path, house / wheel.path.name)
            entries.append(RequirementEntry(wheel.name, wheel.version, wheel.verified()))
        requirements = house / "spip-requirements.txt"
        requirements.write_text(render_requirements(entries), encoding="utf-8")
        argv, kind = _argv(python, house, requirements, options)
        return processes.run(argv, kind, user_site=user_site)
