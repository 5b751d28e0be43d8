"""``spip sync``: install exactly what a PEP 751 lock selects, from the map's indexes only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.commands.context import Services
from pipx_secure.errors import InstallError
from pipx_secure.install.pipargs import PipOptions, pip_command
from pipx_secure.install.process import ChildKind
from pipx_secure.model.plan import Pin
from pipx_secure.model.pylock import LockPolicyError, check_lock_against_map, read_pylock


@dataclass(frozen=True)
class SyncSettings:
    """``spip sync``'s flags."""

    lockfile: Path = Path("pylock.toml")
    map_path: Path | None = None
    python: str | None = None
    exact: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class SyncResult:
    """What ``spip sync`` did, or would do with ``--dry-run``."""

    installed: tuple[Pin, ...]
    uninstalled: tuple[NormalizedName, ...]
    dry_run: bool = False


def run(settings: SyncSettings, services: Services) -> SyncResult:
    """Check the lock against the map and the indexes, then install it offline."""
    from pipx_secure.install.apply import apply
    from pipx_secure.install.workspace import Workspace
    from pipx_secure.resolve.fromlock import resolution_from_lock

    source_map = services.load_map(settings.map_path)
    lock = read_pylock(settings.lockfile)
    findings = check_lock_against_map(lock, source_map)
    if findings:
        raise LockPolicyError(
            f"{settings.lockfile}: " + "; ".join(f.message for f in findings),
            hint="the lock's sources break the source map; nothing was installed",
        )
    target = services.target(settings.python)
    transport = services.transport()
    workspace = Workspace(source_map, target, transport, services.cache, services.processes)
    try:
        resolution = resolution_from_lock(lock, workspace.pages, target)
        extraneous: tuple[NormalizedName, ...] = ()
        if settings.exact:
            extraneous = tuple(
                sorted(n for n in target.installed if n not in resolution.candidates and n != "pip")
            )
        if settings.dry_run:
            to_install, _satisfied = resolution.plan.changes(target.installed)
            return SyncResult(to_install, extraneous, dry_run=True)
        outcome = apply(workspace, resolution, PipOptions(quiet=1))
    finally:
        workspace.close()
        transport.close()
    if extraneous:
        argv = [*pip_command(target.python), "uninstall", "-y", "-q", *extraneous]
        if not services.processes.run(argv, ChildKind.PIP).ok:
            raise InstallError("pip failed uninstalling: " + ", ".join(extraneous))
    return SyncResult(outcome.installed, extraneous)
