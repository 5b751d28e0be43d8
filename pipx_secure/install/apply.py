"""Acting on a plan: fetch and build everything first, then run the installer, offline.

Nothing touches the target before every artifact is downloaded, verified and built, so a
failure on the way leaves the environment exactly as it was.  Bytecode compilation of what
spip's cache lacks starts as each wheel is verified (:mod:`pipx_secure.install.bytecode`).
The installer (pip, several pip processes over disjoint groups of wheels, or uv) runs with
``--no-compile``; as each group is in place spip writes its ``.pyc`` files from the cache.
Then spip records provenance (read by ``spip audit`` and the no-op fast path) and writes PEP
610 ``direct_url.json`` for local projects.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.errors import InstallError
from pipx_secure.install.bytecode import Bytecode, Pending
from pipx_secure.install.groups import install_groups
from pipx_secure.install.landing import Landing
from pipx_secure.install.pipargs import Backend, PipOptions
from pipx_secure.install.preparer import LocalArtifact
from pipx_secure.install.process import Completed
from pipx_secure.install.provenance import record_digest, write_provenance
from pipx_secure.install.shadowing import check_shadowing
from pipx_secure.install.target import interpreter_facts, probe, scan_distributions
from pipx_secure.install.wheelhouse import WheelFile, install_wheels
from pipx_secure.install.workspace import Workspace
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.resolve.planner import Resolution


@dataclass(frozen=True)
class InstallOutcome:
    """What an install did."""

    plan: Plan
    installed: tuple[Pin, ...]
    satisfied: tuple[Pin, ...]
    pip_ran: bool


def _spip_compiles(options: PipOptions, target: TargetEnvironment) -> bool:
    """Whether spip writes the bytecode (from its cache) instead of the installer."""
    return options.compile and not options.elsewhere and Bytecode.possible(target)


def early_bytecode(workspace: Workspace, options: PipOptions) -> Bytecode | None:
    """A compiler started before resolution when spip will write the bytecode: each wheel
    resolution downloads (to read its metadata) starts compiling at once, on cores that
    resolution leaves idle.  The caller passes it to :func:`apply` and closes it."""
    if not _spip_compiles(options, workspace.target):
        return None
    bytecode = Bytecode(
        workspace.target, workspace.cache, workspace.processes, phases=workspace.phases
    )
    workspace.metadata.on_wheel = bytecode.add_wheel
    return bytecode


def apply(
    workspace: Workspace,
    resolution: Resolution,
    options: PipOptions,
    *,
    reinstall: bool = False,
    bytecode: Bytecode | None = None,
) -> InstallOutcome:
    """Fetch and build everything first, then run the installer offline.  ``bytecode``: from
    :func:`early_bytecode` (closed by the caller), else made and closed here."""
    target = workspace.target
    to_install, satisfied = resolution.plan.changes(target.installed, reinstall=reinstall)
    if not to_install:
        return InstallOutcome(resolution.plan, (), satisfied, pip_ran=False)
    own = bytecode is None and _spip_compiles(options, target)
    if own:
        bytecode = Bytecode(target, workspace.cache, workspace.processes, phases=workspace.phases)
    try:
        wheels = workspace.fetch(
            resolution, to_install, on_wheel=bytecode.add_wheel if bytecode else None
        )
        if bytecode is not None:
            bytecode.flush()
        paths = check_shadowing(
            wheels,
            {p.name: p.index for p in to_install},
            None if (options.target_dir or options.user) else target,
            workspace.route_name,
            workspace.source_map.allow_overwrite,
        )
        workspace.step(f"installing {len(wheels)} wheel(s) with {options.backend.value}")
        run_options = replace(options, compile=False) if bytecode else options
        pending = _install(workspace, wheels, paths, run_options, bytecode)
        if bytecode is not None:
            with workspace.phases.span("bytecode"):
                bytecode.complete(pending)
    finally:
        if own and bytecode is not None:
            bytecode.close()
    if not options.elsewhere:
        with workspace.phases.span("provenance"):
            after = probe(target.python, workspace.cache, workspace.processes)
            record_provenance(after, to_install, workspace.local, wheels)
            record_direct_urls(after, to_install, workspace.local)
    return InstallOutcome(resolution.plan, to_install, satisfied, pip_ran=True)


def _install(
    workspace: Workspace,
    wheels: Sequence[WheelFile],
    paths: Mapping[NormalizedName, Sequence[str]],
    options: PipOptions,
    bytecode: Bytecode | None,
) -> list[Pending]:
    """Run the installer over ``wheels`` (pip: disjoint groups at once); as each group is in
    place, write its bytecode from the cache.  Returns what is still to be written."""
    target = workspace.target
    # One pip when it replaces installed distributions, and when the cores are compiling
    # (a cold install: a second pip would only add its start-up).
    single = any(w.name in target.installed for w in wheels) or (
        bytecode is not None and bytecode.busy()
    )
    groups = (
        install_groups(wheels, paths, replacing=single)
        if options.backend is Backend.PIP and not (options.target_dir or options.user)
        else [list(wheels)]
    )

    def one(group: list[WheelFile]) -> tuple[Completed, list[Pending]]:
        early: list[Pending] = []

        def landed(wheel: WheelFile, dist_info: Path) -> None:
            if bytecode is not None:
                with workspace.phases.span("bytecode"):
                    early.extend(bytecode.write_or_defer([(dist_info, str(wheel.digest))]))

        # While pip installs the group, each distribution's bytecode is written as it lands.
        watched = group if bytecode is not None and options.backend is Backend.PIP else []
        sites = [target.scheme[k] for k in ("purelib", "platlib") if target.scheme.get(k)]
        landing = Landing(watched, sites, landed)
        with workspace.phases.span("install"), landing:
            done = install_wheels(
                group,
                target.python,
                options,
                workspace.processes,
                user_site=options.user,
                cache_root=workspace.cache.root,
            )
        if landing.error is not None:
            raise landing.error
        if not done.ok or bytecode is None:
            return done, early
        rest = [w for w in group if w not in landing.landed]
        with workspace.phases.span("bytecode"):
            return done, early + bytecode.write_or_defer(_dist_infos(workspace, rest))

    with ThreadPoolExecutor(len(groups), thread_name_prefix="spip-install") as pool:
        results = list(pool.map(one, groups))
    for done, _pending in results:
        if not done.ok:
            raise InstallError(
                f"pip failed installing the plan: {done.last_line()}",
                hint="everything was fetched and verified; pip itself refused (run with -v)",
            )
    return [item for _done, pending in results for item in pending]


def _dist_infos(workspace: Workspace, group: Sequence[WheelFile]) -> list[tuple[Path, str]]:
    """(dist-info directory, wheel digest) of each of ``group`` now installed."""
    target = workspace.target
    facts = interpreter_facts(target.python, workspace.cache, workspace.processes)
    found = scan_distributions(facts.sys_path).locations
    return [(found[w.name], str(w.digest)) for w in group if w.name in found]


def record_direct_urls(
    after: TargetEnvironment, pins: Sequence[Pin], local: Mapping[NormalizedName, LocalArtifact]
) -> None:
    """PEP 610 ``direct_url.json`` for local installs (editable ones flagged as such)."""
    for pin in pins:
        artifact = local.get(pin.name)
        location = after.locations.get(pin.name)
        if artifact is None or location is None:
            continue
        record = dict(artifact.direct_url.to_dict())
        (location / "direct_url.json").write_text(json.dumps(record, sort_keys=True), "utf-8")
        with contextlib.suppress(OSError), (location / "RECORD").open("a", encoding="utf-8") as f:
            f.write(f"{location.name}/direct_url.json,,\n")


def record_provenance(
    after: TargetEnvironment,
    pins: Sequence[Pin],
    local: Mapping[NormalizedName, LocalArtifact],
    wheels: Sequence[WheelFile] = (),
) -> None:
    """Write where each installed distribution came from (read by ``spip audit``); for a
    distribution built from an sdist, also the wheel spip built (audit compares with it)."""
    built = {w.name: w for w in wheels if w.digest.algorithm == "sha256"}
    entries = []
    for pin in pins:
        if pin.name in local:
            continue  # local projects have no index provenance
        location: Path | None = after.locations.get(pin.name)
        from_sdist = not pin.filename.endswith(".whl") and pin.name in built
        entries.append(
            ProvenanceEntry(
                name=pin.name,
                version=str(pin.version),
                index=pin.index,
                index_url=pin.index_url,
                filename=pin.filename,
                sha256=pin.digest.hexdigest if pin.digest.algorithm == "sha256" else "",
                record_sha256=record_digest(location / "RECORD") if location else None,
                wheel_filename=built[pin.name].path.name if from_sdist else None,
                wheel_sha256=built[pin.name].digest.hexdigest if from_sdist else None,
            )
        )
    # A read-only prefix: the install stands; audit will verify against the index instead.
    with contextlib.suppress(OSError):
        write_provenance(after.prefix, entries)
