"""``spip install``: pip's install interface, every package from its assigned index only."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from pipx_secure.commands.context import Services
from pipx_secure.commands.install_target import (
    Described,
    check_script_pythons,
    choose_target,
    gather,
)
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.reqfile import parse_requirement_files
from pipx_secure.model.reqline import RequirementLine, RequirementSet
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs
from pipx_secure.resolve.settings import ResolveSettings
from pipx_secure.resolve.sources import classify

if TYPE_CHECKING:
    from pipx_secure.install.bytecode import Bytecode
    from pipx_secure.install.workspace import BuildOptions, Workspace
    from pipx_secure.resolve.planner import Resolution


@dataclass(frozen=True)
class InstallSettings:
    """``spip install``'s flags, fixed at the CLI boundary."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    editables: tuple[str, ...] = ()
    map_path: Path | None = None
    allow_overwrite: tuple[str, ...] = ()
    python: str | None = None
    dry_run: bool = False
    report: Path | None = None
    resolve: ResolveSettings = field(default_factory=ResolveSettings)
    pip: PipOptions = field(default_factory=PipOptions)
    require_hashes: bool = False
    quiet: int = 0
    build_constraint_files: tuple[Path, ...] = ()
    scripts: tuple[Path, ...] = ()
    groups: tuple[str, ...] = ()
    only_deps: bool = False
    src: Path | None = None
    config_settings: tuple[tuple[str, str], ...] = ()
    require_virtualenv: bool = False
    described: Described = field(default_factory=Described)


@dataclass(frozen=True)
class InstallResult:
    """What ``spip install`` did (the CLI renders it)."""

    plan: Plan | None = None
    installed: tuple[Pin, ...] = ()
    satisfied: tuple[Pin, ...] = ()
    fast_path: bool = False
    dry_run: bool = False
    report_text: str | None = None


def _file_options(settings: InstallSettings, combined: RequirementSet) -> InstallSettings:
    """``--pre`` and ``--require-hashes`` written in requirement files apply like flags."""
    options = {option for option, _value, _where in combined.options}
    resolve = replace(settings.resolve, pre=settings.resolve.pre or "--pre" in options)
    require = settings.require_hashes or "--require-hashes" in options
    return replace(settings, resolve=resolve, require_hashes=require)


def _fast_path(
    settings: InstallSettings,
    combined: RequirementSet,
    target: TargetEnvironment,
    source_map: SourceMap,
) -> bool:
    """Whether everything asked for is installed by spip from its index (nothing to do)."""
    if (
        settings.resolve.upgrade
        or settings.pip.force_reinstall
        or settings.pip.ignore_installed
        or settings.pip.elsewhere
        or settings.report is not None
        or settings.require_hashes
        or settings.only_deps
        or combined.constraints
        or any(line.hashes for line in combined.requirements)
        or any(classify(line, source_map) for line in combined.requirements)
    ):
        return False
    from pipx_secure.install.provenance import read_provenance
    from pipx_secure.resolve.satisfied import already_satisfied

    reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
    return already_satisfied(reqs, target, source_map, read_provenance(target.prefix))


def _build_options(settings: InstallSettings, target: TargetEnvironment) -> BuildOptions:
    from pipx_secure.install.workspace import BuildOptions

    config: dict[str, str | list[str]] = {}
    for key, value in settings.config_settings:
        previous = config.get(key)
        if previous is None:
            config[key] = value
        else:
            config[key] = [*(previous if isinstance(previous, list) else [previous]), value]
    build_constraints = parse_requirement_files((), settings.build_constraint_files)
    return BuildOptions(
        config_settings=config,
        constraints=constraints_map(build_constraints.constraints, target.markers),
        src_dir=settings.src,
    )


def _only_dependencies(resolution: Resolution) -> Resolution:
    """``--only-deps``: the plan without the requested projects themselves."""
    from pipx_secure.resolve.planner import Resolution as Made

    pins = tuple(p for p in resolution.plan.pins if not p.requested)
    kept = {p.name for p in pins}
    candidates = {n: c for n, c in resolution.candidates.items() if n in kept}
    return Made(Plan(pins), candidates)


def _inputs(settings: InstallSettings, cwd: Path) -> RequirementSet:
    return gather(
        cwd,
        settings.requirements,
        settings.requirement_files,
        settings.constraint_files,
        editables=settings.editables,
        scripts=settings.scripts,
        groups=settings.groups,
    )


def _target(settings: InstallSettings, services: Services) -> TargetEnvironment:
    return choose_target(
        services,
        settings.python,
        settings.pip,
        settings.described,
        require_virtualenv=settings.require_virtualenv,
    )


def nothing_to_do(settings: InstallSettings, services: Services) -> bool:
    """Whether the same command would now find nothing to do (the no-op check alone; no
    note is printed twice: the map is read without the reporter)."""
    from pipx_secure.config.mapfile import load_source_map

    source_map = load_source_map(settings.map_path, cwd=services.cwd, environ=services.environ)
    if source_map.notes:
        return False
    combined = _inputs(settings, services.cwd)
    settings = _file_options(settings, combined)
    target = _target(settings, services)
    return _fast_path(settings, combined, target, source_map)


def run(settings: InstallSettings, services: Services) -> InstallResult:
    """Resolve through the map, fetch and verify everything, then install offline."""
    source_map = services.load_map(settings.map_path).allowing_overwrite(settings.allow_overwrite)
    combined = _inputs(settings, services.cwd)
    settings = _file_options(settings, combined)
    target = _target(settings, services)
    if not settings.resolve.ignore_requires_python:
        check_script_pythons(settings.scripts, target)
    if _fast_path(settings, combined, target, source_map):
        return InstallResult(fast_path=True)
    # The HTTP stack is imported only now: a satisfied no-op never loads it.

    transport = services.transport()
    workspace = services.workspace(source_map, target, transport, _build_options(settings, target))
    try:
        return _resolve_and_apply(settings, services, workspace, combined)
    finally:
        workspace.close()
        transport.close()


def _resolve_and_apply(
    settings: InstallSettings, services: Services, workspace: Workspace, combined: RequirementSet
) -> InstallResult:
    bytecode = None
    if not settings.dry_run:  # a dry run imports no install machinery
        from pipx_secure.install.apply import early_bytecode

        bytecode = early_bytecode(workspace, settings.pip)
    try:
        return _resolve_then_apply(settings, services, workspace, combined, bytecode)
    finally:
        if bytecode is not None:
            bytecode.close()


def _resolve_then_apply(
    settings: InstallSettings,
    services: Services,
    workspace: Workspace,
    combined: RequirementSet,
    bytecode: Bytecode | None,
) -> InstallResult:
    from pipx_secure.install.hashcheck import check_user_hashes

    started = time.perf_counter()
    target, source_map = workspace.target, workspace.source_map
    sources = [s for s in (classify(line, source_map) for line in combined.requirements) if s]
    reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
    reqs += workspace.add_sources(sources)
    with services.reporter.status(
        f"Resolving {len(reqs)} requirement(s) through {source_map.origin}"
    ):
        resolution = workspace.resolve(
            reqs,
            constraints_map(combined.constraints, target.markers),
            settings.resolve,
            installed_preferred=not settings.pip.ignore_installed,
        )
    if settings.only_deps:
        resolution = _only_dependencies(resolution)
    plan = resolution.plan
    if not settings.quiet:
        indexes = ", ".join(sorted({p.index for p in plan.pins})) or "no index"
        services.reporter.note(
            f"resolved {len(plan.pins)} package(s) from {indexes} in "
            f"{time.perf_counter() - started:.2f}s"
        )
    check_user_hashes(workspace, resolution, combined.requirements, require=settings.require_hashes)
    reinstall = settings.pip.force_reinstall or settings.pip.ignore_installed
    to_install, satisfied = plan.changes(target.installed, reinstall=reinstall)
    report_text = _report(settings, workspace, resolution, to_install, combined.requirements)
    if settings.dry_run:
        return InstallResult(plan, (), satisfied, dry_run=True, report_text=report_text)
    from pipx_secure.install.apply import apply  # the install machinery, when installing

    with services.reporter.status("Fetching, verifying and installing"):
        outcome = apply(workspace, resolution, settings.pip, reinstall=reinstall, bytecode=bytecode)
    return InstallResult(plan, outcome.installed, outcome.satisfied, report_text=report_text)


def _report(
    settings: InstallSettings,
    workspace: Workspace,
    resolution: Resolution,
    to_install: tuple[Pin, ...],
    lines: tuple[RequirementLine, ...],
) -> str | None:
    """pip's installation report (``--report FILE``, or its text for ``--report -``)."""
    if settings.report is None:
        return None
    from pipx_secure.model.report import installation_report

    extras: dict[str, list[str]] = {}
    for line in lines:
        if line.requirement is not None and line.requirement.extras:
            name = canonicalize_name(line.requirement.name)
            extras.setdefault(name, []).extend(sorted(line.requirement.extras))
    yanked = frozenset(
        c.link.filename for c in resolution.candidates.values() if c.link.yanked is not None
    )
    report = installation_report(
        Plan(to_install),  # pip's report lists what it would install: written even if nothing
        raw_metadata=workspace.metadata.raw,
        environment=workspace.target.markers,
        yanked=yanked,
        requested_extras=extras,
    )
    text = json.dumps(report, indent=2, sort_keys=True)
    if str(settings.report) == "-":
        return text
    settings.report.write_text(text + "\n", encoding="utf-8")
    return None
