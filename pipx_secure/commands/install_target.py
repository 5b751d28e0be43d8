"""What ``spip install`` installs from and into: requirement inputs, the target location.

Requirement inputs are the command line, ``-r``/``-c`` files, PEP 723 script metadata and PEP
735 dependency groups.  The target is judged where the install goes: ``--target``,
``--prefix``, ``--root`` and ``--user`` look at what is installed *there*; ``--platform``,
``--python-version``, ``--implementation`` and ``--abi`` (with ``--target``, as in pip)
describe another environment.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.specifiers import SpecifierSet

from pipx_secure.commands.context import Services
from pipx_secure.errors import EnvironmentProbeError, ResolutionError, UsageError
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.model.environment import TargetEnvironment, environment_for
from pipx_secure.model.inputs import dependency_group, script_metadata
from pipx_secure.model.reqfile import parse_requirement_files
from pipx_secure.model.reqline import RequirementSet, merge, parse_cli_requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Described:
    """Another environment to install for (pip's ``--platform`` and friends, with --target)."""

    platforms: tuple[str, ...] = ()
    python_version: str | None = None
    implementation: str | None = None
    abis: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.platforms or self.python_version or self.implementation or self.abis)

    def pip_flags(self) -> tuple[str, ...]:
        """The same options for pip, which checks the wheels' tags against them."""
        flags: list[str] = []
        for platform in self.platforms:
            flags += ["--platform", platform]
        if self.python_version:
            flags += ["--python-version", self.python_version]
        if self.implementation:
            flags += ["--implementation", self.implementation]
        for abi in self.abis:
            flags += ["--abi", abi]
        return tuple(flags)


def gather(
    cwd: Path,
    requirements: tuple[str, ...],
    files: tuple[Path, ...],
    constraints: tuple[Path, ...],
    *,
    editables: tuple[str, ...] = (),
    scripts: tuple[Path, ...] = (),
    groups: tuple[str, ...] = (),
) -> RequirementSet:
    """Every requirement asked for, from every input."""
    lines = [parse_cli_requirement(r, cwd=cwd) for r in requirements]
    lines += [parse_cli_requirement(e, cwd=cwd, editable=True) for e in editables]
    for script in scripts:
        try:
            text = script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{script}: cannot read the script: {exc}") from None
        lines += [
            parse_cli_requirement(d, cwd=cwd)
            for d in script_metadata(text, str(script)).dependencies
        ]
    for path, names in _groups(cwd, groups).items():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: cannot read [dependency-groups]: {exc}") from None
        lines += [
            parse_cli_requirement(r, cwd=path.parent)
            for r in dependency_group(data, names, str(path))
        ]
    combined = merge(parse_requirement_files(files, constraints), RequirementSet(tuple(lines)))
    if not combined.requirements:
        raise UsageError("no requirements given", hint="spip install NAME, or -r FILE")
    return combined


def check_script_pythons(scripts: tuple[Path, ...], target: TargetEnvironment) -> None:
    """Refuse a PEP 723 script whose ``requires-python`` excludes the target interpreter."""
    for script in scripts:
        meta = script_metadata(script.read_text(encoding="utf-8"), str(script))
        if meta.requires_python is None:
            continue
        spec = SpecifierSet(meta.requires_python)  # checked when the block was read
        if not spec.contains(target.python_version, prereleases=True):
            raise ResolutionError(
                f"{script} requires Python {spec}; the target interpreter is "
                f"{target.python_version}",
                hint="choose a matching interpreter with --python, or pass "
                "--ignore-requires-python",
            )


def _groups(cwd: Path, groups: tuple[str, ...]) -> dict[Path, list[str]]:
    """``--group [PATH:]NAME`` values by pyproject.toml (pip's syntax)."""
    found: dict[Path, list[str]] = {}
    for value in groups:
        path, sep, name = value.rpartition(":")
        pyproject = Path(path) if sep else cwd / "pyproject.toml"
        if pyproject.is_dir():
            pyproject = pyproject / "pyproject.toml"
        found.setdefault(pyproject, []).append(name)
    return found


def choose_target(
    services: Services,
    python: str | None,
    options: PipOptions,
    described: Described,
    *,
    require_virtualenv: bool = False,
) -> TargetEnvironment:
    """The environment the plan is made for, judged against what is installed where it goes."""
    from pipx_secure.install.target import scan_distributions, site_dirs_for

    if described:
        if not options.target_dir:
            raise UsageError(
                "--platform, --python-version, --implementation and --abi need --target",
                hint="as in pip: they describe another environment, installed into a directory",
            )
        target = described_target(services, python, described)
    else:
        target = services.target(python)
        if require_virtualenv and not target.virtualenv:
            raise EnvironmentProbeError(
                f"{target.python} is not in a virtual environment (--require-virtualenv)",
                hint="pass --python with a virtual environment, or activate one",
            )
    dirs = site_dirs_for(
        target,
        target_dir=options.target_dir,
        prefix=options.prefix,
        root=options.root,
        user=options.user,
        user_base=services.environ.get("PYTHONUSERBASE"),
    )
    if dirs is None:
        return target
    found = scan_distributions(dirs)
    return replace(
        target, installed=found.versions, locations=found.locations, requires=found.requires
    )


def described_target(
    services: Services, python: str | None, described: Described
) -> TargetEnvironment:
    real = services.target(python)
    if described.implementation not in (None, "cp", "py"):
        raise UsageError(
            f"--implementation {described.implementation} is not supported",
            hint="spip describes CPython environments (cp)",
        )
    version = described.python_version or real.markers["python_version"]
    if "." not in version and len(version) > 1:
        version = f"{version[0]}.{version[1:]}"  # pip also takes 312 for 3.12
    platforms = described.platforms or (str(real.tags[0].platform),)
    envs = [environment_for(version, platform) for platform in platforms]
    tags = tuple(dict.fromkeys(t for env in envs for t in env.tags))
    if described.abis:
        tags = tuple(t for t in tags if t.abi in (*described.abis, "none", "abi3"))
    return replace(envs[0], python=real.python, tags=tags, prefix=real.prefix)
