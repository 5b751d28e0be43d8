"""``spip install``: pip's install interface, every package from its assigned index only."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from pipx_secure.commands.context import Services
from pipx_secure.errors import UsageError
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.reqfile import parse_requirement_files
from pipx_secure.model.reqline import RequirementLine, RequirementSet, merge, parse_cli_requirement
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs
from pipx_secure.resolve.settings import ResolveSettings
from pipx_secure.resolve.sources import classify

if TYPE_CHECKING:
    from pipx_secure.install.workspace import Workspace
    from pipx_secure.resolve.planner import Resolution


@dataclass(frozen=True)
class InstallSettings:
    """``spip install``'s flags, fixed at the CLI boundary."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    editables: tuple[str, ...] = ()
    map_path: Path | None = None
    python: str | None = None
    dry_run: bool = False
    report: Path | None = None
    resolve: ResolveSettings = field(default_factory=ResolveSettings)
    pip: PipOptions = field(default_factory=PipOptions)
    require_hashes: bool = False
    quiet: int = 0


@dataclass(frozen=True)
class InstallResult:
    """What ``spip install`` did (the CLI renders it)."""

    plan: Plan | None = None
    installed: tuple[Pin, ...] = ()
    satisfied: tuple[Pin, ...] = ()
    fast_path: bool = False
    dry_run: bool = False
    report_text: str | None = None


def _inputs(settings: InstallSettings, cwd: Path) -> RequirementSet:
    files = parse_requirement_files(settings.requirement_files, settings.constraint_files)
    lines = [parse_cli_requirement(r, cwd=cwd) for r in settings.requirements]
    lines += [parse_cli_requirement(e, cwd=cwd, editable=True) for e in settings.editables]
    combined = merge(files, RequirementSet(tuple(lines), (), ()))
    if not combined.requirements:
        raise UsageError("no requirements given", hint="spip install NAME, or -r FILE")
    return combined


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
        or combined.constraints
        or settings.pip.target_dir
        or settings.pip.user
        or any(classify(line, source_map) for line in combined.requirements)
    ):
        return False
    from pipx_secure.install.provenance import read_provenance
    from pipx_secure.resolve.satisfied import already_satisfied

    reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
    return already_satisfied(reqs, target, source_map, read_provenance(target.prefix))


def nothing_to_do(settings: InstallSettings, services: Services) -> bool:
    """Whether the same command would now find nothing to do (the no-op check alone; no
    note is printed twice: the map is read without the reporter)."""
    from pipx_secure.config.mapfile import load_source_map

    source_map = load_source_map(settings.map_path, cwd=services.cwd, environ=services.environ)
    combined = _inputs(settings, services.cwd)
    settings = _file_options(settings, combined)
    if source_map.notes:
        return False
    return _fast_path(settings, combined, services.target(settings.python), source_map)


def run(settings: InstallSettings, services: Services) -> InstallResult:
    """Resolve through the map, fetch and verify everything, then install offline."""
    source_map = services.load_map(settings.map_path)
    combined = _inputs(settings, services.cwd)
    settings = _file_options(settings, combined)
    target = services.target(settings.python)
    sources = [s for s in (classify(line, source_map) for line in combined.requirements) if s]
    if _fast_path(settings, combined, target, source_map):
        return InstallResult(fast_path=True)
    # The HTTP stack is imported only now: a satisfied no-op never loads it.
    from pipx_secure.install.apply import apply
    from pipx_secure.install.hashcheck import check_user_hashes
    from pipx_secure.install.workspace import Workspace

    started = time.perf_counter()
    transport = services.transport()
    workspace = Workspace(source_map, target, transport, services.cache, services.processes)
    try:
        reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
        reqs += workspace.add_sources(sources)
        with services.reporter.status(
            f"Resolving {len(reqs)} requirement(s) through {source_map.origin}"
        ):
            resolution = workspace.resolve(
                reqs, constraints_map(combined.constraints, target.markers), settings.resolve
            )
        plan = resolution.plan
        indexes = ", ".join(sorted({p.index for p in plan.pins})) or "no index"
        if not settings.quiet:
            services.reporter.note(
                f"resolved {len(plan.pins)} package(s) from {indexes} in "
                f"{time.perf_counter() - started:.2f}s"
            )
        check_user_hashes(
            workspace, resolution, combined.requirements, require=settings.require_hashes
        )
        report_text = _report(settings, workspace, resolution, target, combined.requirements)
        if settings.dry_run:
            _to_install, satisfied = plan.changes(
                target.installed, reinstall=settings.pip.force_reinstall
            )
            return InstallResult(plan, (), satisfied, dry_run=True, report_text=report_text)
        with services.reporter.status("Fetching, verifying and installing"):
            outcome = apply(
                workspace, resolution, settings.pip, reinstall=settings.pip.force_reinstall
            )
    finally:
        workspace.close()
        transport.close()
    return InstallResult(plan, outcome.installed, outcome.satisfied, report_text=report_text)


def _report(
    settings: InstallSettings,
    workspace: Workspace,
    resolution: Resolution,
    target: TargetEnvironment,
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
        resolution.plan,
        raw_metadata=workspace.metadata.raw,
        environment=target.markers,
        yanked=yanked,
        requested_extras=extras,
    )
    text = json.dumps(report, indent=2, sort_keys=True)
    if str(settings.report) == "-":
        return text
    settings.report.write_text(text + "\n", encoding="utf-8")
    return None
