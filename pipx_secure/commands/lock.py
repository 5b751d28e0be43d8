"""``spip lock``: resolve through the source map and write a PEP 751 ``pylock.toml``."""

from __future__ import annotations

import platform as platform_module
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker

from pipx_secure.commands.context import Services
from pipx_secure.errors import UsageError
from pipx_secure.fs import atomic_write
from pipx_secure.model.environment import TargetEnvironment, environment_for, environment_marker
from pipx_secure.model.plan import Plan
from pipx_secure.model.pylock import dumps, plan_to_pylock, plans_to_pylock
from pipx_secure.model.reqfile import parse_requirement_files
from pipx_secure.model.reqline import RequirementLine, RequirementSet, merge, parse_cli_requirement
from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs
from pipx_secure.resolve.settings import ResolveSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class LockSettings:
    """``spip lock``'s flags."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    output: Path = Path("pylock.toml")
    map_path: Path | None = None
    python: str | None = None
    python_version: str | None = None
    platforms: tuple[str, ...] = ()
    pre: bool = False


@dataclass(frozen=True)
class LockResult:
    """What ``spip lock`` wrote."""

    output: Path
    packages: int
    changed: bool


def pyproject_dependencies(cwd: Path) -> list[RequirementLine]:
    """``[project] dependencies`` of ``cwd/pyproject.toml`` (empty when there is none)."""
    pyproject = cwd / "pyproject.toml"
    if not pyproject.is_file():
        return []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
    project = data.get("project", {})
    deps = project.get("dependencies", []) if isinstance(project, dict) else []
    if not isinstance(deps, list):
        raise UsageError(f"{pyproject}: [project] dependencies must be a list")
    return [parse_cli_requirement(str(d), cwd=cwd) for d in deps]


def _inputs(settings: LockSettings, cwd: Path) -> RequirementSet:
    files = parse_requirement_files(settings.requirement_files, settings.constraint_files)
    lines = [parse_cli_requirement(r, cwd=cwd) for r in settings.requirements]
    if not lines and not files.requirements:
        lines = pyproject_dependencies(cwd)
    combined = merge(files, RequirementSet(tuple(lines), (), ()))
    if not combined.requirements:
        raise UsageError(
            "nothing to lock",
            hint="give requirements, -r FILE, or run where pyproject.toml lists [project] "
            "dependencies",
        )
    if any(line.url or line.path or line.editable for line in combined.requirements):
        raise UsageError(
            "spip lock records packages from indexes only; local paths, editables and "
            "direct URLs cannot be locked",
            hint="publish them to an index routed in the map, or install them separately",
        )
    return combined


def _environments(
    settings: LockSettings, services: Services
) -> list[tuple[Marker | None, TargetEnvironment]]:
    if not (settings.platforms or settings.python_version):
        return [(None, services.target(settings.python))]
    if settings.python:
        raise UsageError("--python and --python-version/--platform exclude each other")
    from packaging.tags import platform_tags

    version = settings.python_version or platform_module.python_version()
    platforms = settings.platforms or (next(iter(platform_tags())),)
    described = [environment_for(version, tag) for tag in platforms]
    return [(Marker(environment_marker(env)), env) for env in described]


def run(settings: LockSettings, services: Services) -> LockResult:
    """Resolve once per environment and write one lock (unchanged inputs rewrite nothing)."""
    from pipx_secure.install.workspace import Workspace

    source_map = services.load_map(settings.map_path)
    combined = _inputs(settings, services.cwd)
    plans: list[tuple[Marker | None, Plan]] = []
    transport = services.transport()
    try:
        for marker, target in _environments(settings, services):
            reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
            workspace = Workspace(source_map, target, transport, services.cache, services.processes)
            try:
                resolution = workspace.resolve(
                    reqs,
                    constraints_map(combined.constraints, target.markers),
                    ResolveSettings(pre=settings.pre),
                    installed_preferred=False,
                )
            finally:
                workspace.close()
            plans.append((marker, resolution.plan))
    finally:
        transport.close()
    described = plans[0][0] is not None
    text = dumps(plans_to_pylock(plans) if described else plan_to_pylock(plans[0][1]))
    count = len({pin.name for _m, plan in plans for pin in plan.pins})
    output = settings.output
    if output.is_file() and output.read_text(encoding="utf-8") == text:
        return LockResult(output, count, changed=False)
    atomic_write(output, text)
    return LockResult(output, count, changed=True)
