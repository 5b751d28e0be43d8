"""``spip sync``: install exactly what a PEP 751 lock selects, from the map's indexes only.

Order of work, so that nothing is fetched for a lock that will be refused:

1. the lock is validated (``packaging.pylock``) and checked against the source map: each
   package's ``index`` key and every file URL must be its assigned index's (exit 3);
2. the target must be covered by the lock's ``requires-python`` and ``environments``, and the
   lock must have a file for it (exit 4), extras and dependency groups as asked;
3. a distribution spip's provenance says it installed from that file and index is in place;
   when all are, nothing starts: no index, no pip;
4. every other file is looked up by the lock's hash in spip's cache, then in ``--wheelhouse``;
   only files found nowhere are matched on their assigned index (hash, then normalized name,
   with the lock's hash) and downloaded.  With every file local, no transport that can reach
   the network exists; ``--offline`` makes a missing file an error naming every one (exit 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from packaging.pylock import Pylock
from packaging.utils import NormalizedName

from pipx_secure.commands.context import Services
from pipx_secure.errors import InstallError, UsageError
from pipx_secure.install.pipargs import PipOptions, pip_command
from pipx_secure.install.process import ChildKind
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Pin
from pipx_secure.model.pylock import LockPolicyError, check_lock_against_map, read_pylock
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.fromlock import Choice, LockedFile


@dataclass(frozen=True)
class SyncSettings:
    """``spip sync``'s flags."""

    lockfile: Path = Path("pylock.toml")
    map_path: Path | None = None
    allow_overwrite: tuple[str, ...] = ()
    python: str | None = None
    exact: bool = False
    dry_run: bool = False
    offline: bool = False
    wheelhouse: Path | None = None
    choice: Choice = field(default_factory=Choice)


@dataclass(frozen=True)
class SyncResult:
    """What ``spip sync`` did, or would do with ``--dry-run``."""

    installed: tuple[Pin, ...]
    uninstalled: tuple[NormalizedName, ...]
    dry_run: bool = False
    local: int = 0
    """How many of the installed files came from the cache or the wheelhouse."""
    network: bool = False
    """Whether any index was asked (False: every file was local, or nothing was needed)."""


def _missing_message(missing: tuple[LockedFile, ...], settings: SyncSettings) -> str:
    where = "spip's cache" + (
        f" nor in --wheelhouse {settings.wheelhouse}" if settings.wheelhouse else ""
    )
    names = ", ".join(f"{f.filename} ({f.name} {f.version})" for f in missing)
    return f"{len(missing)} file(s) of {settings.lockfile} are neither in {where}: {names}"


def _refuse_foreign_sources(lock: Pylock, settings: SyncSettings, source_map: SourceMap) -> None:
    findings = check_lock_against_map(lock, source_map)
    if findings:
        raise LockPolicyError(
            f"{settings.lockfile}: " + "; ".join(f.message for f in findings),
            hint="the lock's sources break the source map; nothing was installed",
        )


def run(settings: SyncSettings, services: Services) -> SyncResult:
    """Check the lock against the map, then install what is not in place, offline."""
    from pipx_secure.install.provenance import read_provenance
    from pipx_secure.resolve.fromlock import in_place, select_from_lock

    source_map = services.load_map(settings.map_path).allowing_overwrite(settings.allow_overwrite)
    if settings.wheelhouse is not None and not settings.wheelhouse.is_dir():
        raise UsageError(f"--wheelhouse {settings.wheelhouse}: not a directory")
    lock = read_pylock(settings.lockfile)
    _refuse_foreign_sources(lock, settings, source_map)
    target = services.target(settings.python)
    files = select_from_lock(lock, target, settings.choice, str(settings.lockfile))
    provenance = read_provenance(target.prefix)
    needed = [
        f for f in files if not in_place(f, target, provenance, source_map.index_for(f.name).index)
    ]
    extraneous: tuple[NormalizedName, ...] = ()
    if settings.exact:
        names = {f.name for f in files}
        extraneous = tuple(sorted(n for n in target.installed if n not in names and n != "pip"))
    result = _install(settings, services, source_map, target, needed) if needed else None
    if settings.dry_run:
        return SyncResult(result.installed if result else (), extraneous, dry_run=True)
    if extraneous:
        argv = [*pip_command(target.python), "uninstall", "-y", "-q", *extraneous]
        if not services.processes.run(argv, ChildKind.PIP).ok:
            raise InstallError("pip failed uninstalling: " + ", ".join(extraneous))
    if result is None:
        return SyncResult((), extraneous)
    return SyncResult(result.installed, extraneous, local=result.local, network=result.network)


def _install(
    settings: SyncSettings,
    services: Services,
    source_map: SourceMap,
    target: TargetEnvironment,
    needed: list[LockedFile],
) -> SyncResult:
    """Find, fetch (only what is missing) and install ``needed``; returns what was done."""
    from pipx_secure.index.offline import OfflineError, OfflineTransport
    from pipx_secure.install.apply import apply
    from pipx_secure.install.lockfiles import locate
    from pipx_secure.resolve.fromlock import resolution_from_lock

    local = locate(needed, services.cache, settings.wheelhouse)
    if local.missing and settings.offline:
        raise OfflineError(
            "offline: " + _missing_message(local.missing, settings),
            hint="run once online (or with --wheelhouse DIR holding them); nothing was installed",
        )
    network = bool(local.missing)
    if network:
        transport = services.transport()
    else:
        transport = OfflineTransport(services.cache, "every file of the lock is local")
    workspace = services.workspace(source_map, target, transport)
    try:
        resolution = resolution_from_lock(needed, workspace.pages, local.found)
        pins = resolution.plan.pins
        if settings.dry_run:
            return SyncResult(pins, (), dry_run=True)
        reinstall = any(p.name in target.installed for p in pins)
        options = PipOptions(quiet=1, force_reinstall=reinstall)
        outcome = apply(workspace, resolution, options, reinstall=True)
    finally:
        workspace.close()
        transport.close()
    return SyncResult(outcome.installed, (), local=len(local.found), network=network)
