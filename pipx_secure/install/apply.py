"""Acting on a plan: fetch and build everything first, then run the installer once, offline.

Nothing touches the target before every artifact is downloaded, verified and built, so a
failure on the way leaves the environment exactly as it was.  After the installer succeeds,
spip records provenance (read by ``spip audit`` and the no-op fast path), writes PEP 610
``direct_url.json`` for local projects, and byte-compiles the new files in parallel.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.errors import InstallError
from pipx_secure.install.compile import compile_files, python_files
from pipx_secure.install.pipargs import Backend, PipOptions
from pipx_secure.install.preparer import LocalArtifact
from pipx_secure.install.provenance import record_digest, write_provenance
from pipx_secure.install.shadowing import check_shadowing
from pipx_secure.install.target import probe
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


def apply(
    workspace: Workspace,
    resolution: Resolution,
    options: PipOptions,
    *,
    reinstall: bool = False,
) -> InstallOutcome:
    """Fetch and build everything first, then run pip (or uv) once, offline."""
    target = workspace.target
    to_install, satisfied = resolution.plan.changes(target.installed, reinstall=reinstall)
    if not to_install:
        return InstallOutcome(resolution.plan, (), satisfied, pip_ran=False)
    wheels = workspace.fetch(resolution, to_install)
    check_shadowing(
        wheels,
        {p.name: p.index for p in to_install},
        None if (options.target_dir or options.user) else target,
        workspace.route_name,
        workspace.source_map.allow_overwrite,
    )
    # spip byte-compiles afterwards, in parallel, exactly the files pip installed.
    parallel_compile = options.backend is Backend.PIP and options.compile and not options.target_dir
    run_options = replace(options, compile=False) if parallel_compile else options
    workspace.step(f"installing {len(wheels)} wheel(s) with {options.backend.value}")
    done = install_wheels(
        wheels, target.python, run_options, workspace.processes, user_site=options.user
    )
    if not done.ok:
        raise InstallError(
            f"pip failed installing the plan: {done.last_line()}",
            hint="everything was fetched and verified; pip itself refused (run with -v)",
        )
    after: TargetEnvironment | None = None
    if not options.elsewhere:
        after = probe(target.python, workspace.cache, workspace.processes)
        record_provenance(after, to_install, workspace.local, wheels)
        record_direct_urls(after, to_install, workspace.local)
    if parallel_compile:
        after = after or probe(target.python, workspace.cache, workspace.processes)
        dist_infos = [after.locations[p.name] for p in to_install if p.name in after.locations]
        compile_files(target.python, python_files(dist_infos), workspace.processes)
    return InstallOutcome(resolution.plan, to_install, satisfied, pip_ran=True)


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
