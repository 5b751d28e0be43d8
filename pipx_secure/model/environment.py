"""The environment packages are resolved for: marker values, wheel tags, what is installed.

A :class:`TargetEnvironment` is data: it comes from probing a real interpreter
(:mod:`pipx_secure.install.target`) or from a description (``--python-version`` and
``--platform``, :func:`environment_for`), and resolution reads nothing else about the target.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Environment, Marker
from packaging.tags import Tag
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.errors import UsageError


@dataclass(frozen=True)
class TargetEnvironment:
    """What resolution needs to know about the interpreter pip installs into."""

    python: Path
    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    installed: Mapping[NormalizedName, Version]
    prefix: Path
    locations: Mapping[NormalizedName, Path] = field(default_factory=dict)
    requires: Mapping[NormalizedName, tuple[str, ...]] = field(default_factory=dict)
    scheme: Mapping[str, str] = field(default_factory=dict)
    """sysconfig paths (purelib, platlib, scripts, data) of the interpreter."""
    user_site: str = ""
    user_base: str = ""
    virtualenv: bool = False
    magic: str = ""  # the interpreter's bytecode magic number (hex); "" when not probed
    cache_tag: str = ""  # ``sys.implementation.cache_tag``; "" when it writes no bytecode

    @property
    def python_version(self) -> Version:
        """The full Python version (``python_full_version`` marker)."""
        return Version(self.markers["python_full_version"].rstrip("+"))

    @property
    def interpreter_key(self) -> str:
        """A short key naming this interpreter's ABI (for the built-wheel cache)."""
        return str(self.tags[0]) if self.tags else "unknown"

    def marker_environment(self) -> Environment:
        """The markers as packaging's typed ``Environment`` (missing values empty)."""
        m = self.markers
        return Environment(
            implementation_name=m.get("implementation_name", ""),
            implementation_version=m.get("implementation_version", ""),
            os_name=m.get("os_name", ""),
            platform_machine=m.get("platform_machine", ""),
            platform_release=m.get("platform_release", ""),
            platform_system=m.get("platform_system", ""),
            platform_version=m.get("platform_version", ""),
            python_full_version=m.get("python_full_version", ""),
            platform_python_implementation=m.get("platform_python_implementation", ""),
            python_version=m.get("python_version", ""),
            sys_platform=m.get("sys_platform", ""),
        )

    def tag_priority(self) -> dict[Tag, int]:
        """Tag -> rank (0 is best)."""
        return {tag: rank for rank, tag in enumerate(self.tags)}


def _platform_markers(platform: str) -> dict[str, str]:
    """PEP 508 platform markers implied by a wheel platform tag."""
    if platform.startswith(("manylinux", "musllinux", "linux")):
        match = re.match(r"^(?:many|musl)?linux(?:_\d+_\d+|\d+)?_(.+)$", platform)
        machine = match.group(1) if match else platform
        return {
            "sys_platform": "linux",
            "platform_system": "Linux",
            "os_name": "posix",
            "platform_machine": machine,
        }
    if platform.startswith("macosx"):
        machine = platform.split("_", 3)[-1]
        machine = "arm64" if machine in ("arm64", "universal2") else machine
        return {
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "os_name": "posix",
            "platform_machine": machine,
        }
    if platform.startswith("win"):
        machine = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}.get(platform, "")
        return {
            "sys_platform": "win32",
            "platform_system": "Windows",
            "os_name": "nt",
            "platform_machine": machine,
        }
    raise UsageError(
        f"unknown platform tag {platform!r}",
        hint="use a wheel platform tag such as manylinux_2_17_x86_64, "
        "macosx_11_0_arm64 or win_amd64",
    )


def environment_for(
    python_version: str, platform: str, more_platforms: Sequence[str] = ()
) -> TargetEnvironment:
    """A described (not running) environment to lock for, like ``pip download --platform``.

    ``platform`` sets the platform markers; ``more_platforms`` are further platform tags the
    environment accepts, in priority order after it (older manylinux or macOS releases).
    """
    from packaging import tags as tag_module

    try:
        parts = tuple(int(p) for p in python_version.split("."))
    except ValueError:
        raise UsageError(
            f"invalid --python-version {python_version!r}", hint="use e.g. 3.12"
        ) from None
    if len(parts) < 2:
        raise UsageError(f"invalid --python-version {python_version!r}", hint="use e.g. 3.12")
    major_minor = parts[:2]
    full = ".".join(str(p) for p in (*parts, 0)[:3])
    interpreter = f"cp{major_minor[0]}{major_minor[1]}"
    platforms = [platform, *(p for p in more_platforms if p != platform)]
    supported = list(tag_module.cpython_tags(python_version=major_minor, platforms=platforms))
    supported += list(
        tag_module.compatible_tags(
            python_version=major_minor, interpreter=interpreter, platforms=platforms
        )
    )
    markers = {
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "python_version": f"{major_minor[0]}.{major_minor[1]}",
        "python_full_version": full,
        **_platform_markers(platform),
    }
    return TargetEnvironment(
        python=Path(sys.executable),
        markers=markers,
        tags=tuple(supported),
        installed={},
        prefix=Path(sys.prefix),
    )


def environment_marker(env: TargetEnvironment) -> str:
    """The PEP 508 marker that names a described environment in a multi-environment lock."""
    m = env.markers
    return (
        f"sys_platform == '{m['sys_platform']}' and platform_machine == "
        f"'{m['platform_machine']}' and python_version == '{m['python_version']}'"
    )


def describe_environment(env: TargetEnvironment) -> str:
    """``CPython 3.12.1, linux x86_64`` and its marker: how errors name an environment."""
    m = env.markers
    implementation = m.get("platform_python_implementation") or "Python"
    return (
        f"{implementation} {m.get('python_full_version', '?')}, {m.get('sys_platform', '?')} "
        f"{m.get('platform_machine', '?')}: {Marker(environment_marker(env))}"
    )


#: The marker names an ``environments`` entry may pin with ``==`` (joined by ``and``).
_DESCRIBABLE = ("python_version", "python_full_version", "sys_platform", "platform_machine")
_CLAUSE = re.compile(r"""^\(?\s*([a-z_]+)\s*==\s*(?:'([^']*)'|"([^"]*)")\s*\)?$""")
_DEFAULT_MACHINE = {"linux": "x86_64", "darwin": "arm64", "win32": "AMD64"}


def platform_tags(sys_platform: str, machine: str) -> list[str]:
    """Wheel platform tags an environment of ``sys_platform``/``machine`` accepts, best first.

    Linux: manylinux glibc 2.39 down to 2.17 (and the legacy aliases), then ``linux_*``;
    macOS: releases 15 down to 11 (10.9 to 10.15 on x86_64), then ``universal2``; Windows:
    the one tag of its machine.
    """
    if sys_platform == "linux":
        tags = [f"manylinux_2_{minor}_{machine}" for minor in range(39, 16, -1)]
        tags.append(f"manylinux2014_{machine}")
        if machine in ("x86_64", "i686"):
            tags += [f"manylinux2010_{machine}", f"manylinux1_{machine}"]
        return [*tags, f"linux_{machine}"]
    if sys_platform == "darwin":
        releases = [f"{major}_0" for major in range(15, 10, -1)]
        if machine == "x86_64":
            releases += [f"10_{minor}" for minor in range(15, 8, -1)]
        return [f"macosx_{r}_{arch}" for r in releases for arch in (machine, "universal2")]
    windows = {"amd64": "win_amd64", "x86": "win32", "arm64": "win_arm64"}
    if sys_platform == "win32" and machine.lower() in windows:
        return [windows[machine.lower()]]
    raise UsageError(
        f"cannot lock for sys_platform {sys_platform!r} with platform_machine {machine!r}",
        hint="spip describes linux, darwin and win32 environments",
    )


def environment_from_marker(
    marker: str, default_python: str, where: str = "environments"
) -> TargetEnvironment:
    """The concrete environment an ``environments`` entry names (``==`` clauses with ``and``).

    ``sys_platform == 'linux' and python_version == '3.12'`` is CPython 3.12 on Linux x86_64;
    an absent ``python_version`` is ``default_python``, an absent ``platform_machine`` the
    platform's usual one.  Anything spip cannot turn into wheel tags is an error naming it.
    """
    values: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", marker.strip()):
        match = _CLAUSE.match(clause.strip())
        if match is None or match.group(1) not in _DESCRIBABLE:
            raise UsageError(
                f"{where}: cannot lock for {marker!r}: {clause.strip()!r} is not one of "
                + ", ".join(f"{n} == '...'" for n in _DESCRIBABLE),
                hint="write each environment as == clauses joined by and, e.g. "
                "\"sys_platform == 'linux' and python_version == '3.12'\"",
            )
        values[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    system = values.get("sys_platform", "linux")
    machine = values.get("platform_machine", _DEFAULT_MACHINE.get(system, "x86_64"))
    python = values.get("python_full_version") or values.get("python_version") or default_python
    tags = platform_tags(system, machine)
    env = environment_for(python, tags[0], tags[1:])
    markers = dict(env.markers, platform_machine=machine)
    return TargetEnvironment(env.python, markers, env.tags, env.installed, env.prefix)


def requires_python_for(envs: Sequence[TargetEnvironment]) -> str:
    """The ``requires-python`` of a lock for ``envs``: their Python releases, as a range."""
    releases = sorted({(e.python_version.major, e.python_version.minor) for e in envs})
    low, high = releases[0], releases[-1]
    if low == high:
        return f"=={low[0]}.{low[1]}.*"
    return f">={low[0]}.{low[1]}, <{high[0]}.{high[1] + 1}"
