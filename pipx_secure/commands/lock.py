"""``spip lock``: resolve through the source map and write a PEP 751 ``pylock.toml``."""

from __future__ import annotations

import platform as platform_module
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.utils import canonicalize_name

from pipx_secure.commands.context import Services
from pipx_secure.errors import UsageError
from pipx_secure.fs import atomic_write
from pipx_secure.model.environment import (
    TargetEnvironment,
    environment_for,
    environment_from_marker,
    environment_marker,
    requires_python_for,
)
from pipx_secure.model.plan import Plan
from pipx_secure.model.pylock import LockError, dumps, locked_versions, plans_to_pylock, read_pylock
from pipx_secure.model.reqfile import parse_requirement_files
from pipx_secure.model.reqline import RequirementLine, RequirementSet, merge, parse_cli_requirement
from pipx_secure.model.sourcemap import SourceMap
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
    upgrade: bool = False
    """Move every pin to the newest allowed version (the previous lock is not consulted)."""
    upgrade_packages: tuple[str, ...] = ()
    """Move only these; every other pin of the previous lock is kept when it still fits."""


@dataclass(frozen=True)
class LockResult:
    """What ``spip lock`` wrote."""

    output: Path
    packages: int
    changed: bool
    environments: tuple[str, ...] = ()
    """The ``environments`` markers the lock covers."""
    moved: tuple[str, ...] = ()
    """``name old -> new`` for each pin that changed since the previous lock."""


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


def pyproject_environments(cwd: Path) -> tuple[tuple[str, ...], str]:
    """``[tool.spip] environments`` of ``cwd/pyproject.toml`` when the map is elsewhere."""
    pyproject = cwd / "pyproject.toml"
    where = f"{pyproject} [tool.spip.environments]"
    if not pyproject.is_file():
        return (), where
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    spip = tool.get("spip", {}) if isinstance(tool, dict) else {}
    found = spip.get("environments", []) if isinstance(spip, dict) else []
    if not isinstance(found, list) or not all(isinstance(m, str) for m in found):
        raise UsageError(f"{where}: must be a list of marker strings")
    return tuple(found), where


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


def _described(
    settings: LockSettings, source_map: SourceMap, cwd: Path
) -> list[tuple[Marker, TargetEnvironment]] | None:
    """Environments named by flags or declared in the map; None: lock for the target."""
    if settings.platforms or settings.python_version:
        from packaging.tags import platform_tags

        version = settings.python_version or platform_module.python_version()
        platforms = settings.platforms or (next(iter(platform_tags())),)
        described = [environment_for(version, tag) for tag in platforms]
        return [(Marker(environment_marker(env)), env) for env in described]
    declared, where = source_map.environments, source_map.where_environments or "environments"
    if not declared:
        declared, where = pyproject_environments(cwd)
    if declared:
        default = platform_module.python_version()
        return [(Marker(text), environment_from_marker(text, default, where)) for text in declared]
    return None


def _environments(
    settings: LockSettings, services: Services, source_map: SourceMap
) -> list[tuple[Marker, TargetEnvironment]]:
    described = _described(settings, source_map, services.cwd)
    if described is None:
        target = services.target(settings.python)
        return [(Marker(environment_marker(target)), target)]
    if settings.python:
        raise UsageError(
            "--python and described environments (--python-version/--platform, or "
            "environments in the map) exclude each other",
            hint="lock for one interpreter with --python, or for the described environments",
        )
    return described


def _previous(settings: LockSettings, services: Services) -> Pylock | None:
    """The lock being replaced (None: none, or unreadable): its pins are preferred."""
    if not settings.output.is_file():
        return None
    try:
        return read_pylock(settings.output)
    except LockError as exc:
        services.reporter.note(f"note: not keeping the pins of {exc.render()}")
        return None


def _preferred(
    previous: Pylock | None, target: TargetEnvironment, settings: LockSettings
) -> TargetEnvironment:
    """``target`` whose "installed" versions are the previous lock's pins (kept unless asked)."""
    if previous is None or settings.upgrade:
        return replace(target, installed={})
    moving = {canonicalize_name(n) for n in settings.upgrade_packages}
    pins = locked_versions(previous, target.markers)
    return replace(target, installed={n: v for n, v in pins.items() if n not in moving})


def _changes(previous: Pylock | None, plans: list[tuple[Marker, Plan]]) -> tuple[str, ...]:
    """``name old -> new`` for every pin that moved since the previous lock."""
    if previous is None:
        return ()
    before: dict[str, set[str]] = {}
    for package in previous.packages:
        before.setdefault(canonicalize_name(package.name), set()).add(str(package.version))
    after: dict[str, set[str]] = {}
    for _marker, plan in plans:
        for pin in plan.pins:
            after.setdefault(pin.name, set()).add(str(pin.version))
    moved = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, set()), after.get(name, set())
        if old != new:
            was, now = ", ".join(sorted(old)) or "(new)", ", ".join(sorted(new)) or "(removed)"
            moved.append(f"{name} {was} -> {now}")
    return tuple(moved)


def _unknown_upgrades(settings: LockSettings, plans: list[tuple[Marker, Plan]]) -> None:
    locked = {pin.name for _marker, plan in plans for pin in plan.pins}
    unknown = sorted({canonicalize_name(n) for n in settings.upgrade_packages} - locked)
    if unknown:
        raise UsageError(
            f"--upgrade-package {', '.join(unknown)}: not in the lock",
            hint="name a package the requirements pull in",
        )


def run(settings: LockSettings, services: Services) -> LockResult:
    """Resolve once per environment and write one lock (unchanged inputs rewrite nothing)."""

    source_map = services.load_map(settings.map_path)
    combined = _inputs(settings, services.cwd)
    environments = _environments(settings, services, source_map)
    previous = _previous(settings, services)
    plans: list[tuple[Marker, Plan]] = []
    transport = services.transport()
    try:
        for marker, described in environments:
            target = _preferred(previous, described, settings)
            reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
            workspace = services.workspace(source_map, target, transport)
            try:
                resolution = workspace.resolve(
                    reqs,
                    constraints_map(combined.constraints, target.markers),
                    ResolveSettings(pre=settings.pre),
                    installed_preferred=True,
                )
            finally:
                workspace.close()
            plans.append((marker, resolution.plan))
    finally:
        transport.close()
    _unknown_upgrades(settings, plans)
    requires_python = requires_python_for([env for _marker, env in environments])
    text = dumps(plans_to_pylock(plans, requires_python=requires_python))
    count = len({pin.name for _m, plan in plans for pin in plan.pins})
    markers = tuple(str(m) for m, _env in environments)
    output = settings.output
    changed = not (output.is_file() and output.read_text(encoding="utf-8") == text)
    if changed:
        atomic_write(output, text)
    return LockResult(output, count, changed, markers, _changes(previous, plans))
