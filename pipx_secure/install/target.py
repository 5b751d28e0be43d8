"""The target environment: which interpreter pip installs into, and what it is.

Two parts, read differently:

- *interpreter facts* (PEP 508 marker environment, supported wheel tags, ``sys.path``,
  prefix) come from one isolated subprocess of the target interpreter, and are cached in
  spip's cache keyed by the interpreter's path and the identity (inode, size, mtime) of its
  binary and ``pyvenv.cfg``, so later runs start no subprocess;
- *installed distributions* are read by spip itself from the ``*.dist-info`` / ``*.egg-info``
  directories on the target's ``sys.path``, in path order (first one wins, as in
  ``importlib.metadata``), every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import packaging
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import EnvironmentProbeError, UsageError

PROBE_VERSION = 2
_PROBE = r"""
import json, sys
own_path = [p for p in sys.path]
sys.path.insert(0, sys.argv[1])
from packaging import markers, tags
print(json.dumps({
    "executable": sys.executable,
    "markers": markers.default_environment(),
    "tags": [str(t) for t in tags.sys_tags()],
    "sys_path": own_path,
    "prefix": sys.prefix,
}))
"""
_HEADER_END = re.compile(r"\r?\n\r?\n")


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

    @property
    def python_version(self) -> Version:
        """The full Python version (``python_full_version`` marker)."""
        return Version(self.markers["python_full_version"].rstrip("+"))

    @property
    def interpreter_key(self) -> str:
        """A short key naming this interpreter's ABI (for the built-wheel cache)."""
        return str(self.tags[0]) if self.tags else "unknown"

    def tag_priority(self) -> dict[Tag, int]:
        """Tag -> rank (0 is best)."""
        return {tag: rank for rank, tag in enumerate(self.tags)}


def choose_python(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The target interpreter: ``--python``, else the active virtualenv, else spip's own."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
                if candidate.exists():
                    return candidate
            raise UsageError(
                f"--python {explicit}: no interpreter in that directory",
                hint="pass a Python executable or a virtualenv directory",
            )
        if not path.exists():
            found = shutil.which(explicit)
            if found is None:
                raise UsageError(f"--python {explicit}: no such interpreter")
            path = Path(found)
        return path
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for candidate in (Path(venv) / "bin" / "python", Path(venv) / "Scripts" / "python.exe"):
            if candidate.exists():
                return candidate
    return Path(sys.executable)


def _identity(python: Path) -> str:
    """What must not change for cached interpreter facts to stay valid."""
    parts = [os.path.abspath(python), str(PROBE_VERSION), packaging.__version__]
    for path in (python, python.resolve(), python.parent.parent / "pyvenv.cfg"):
        try:
            stat = path.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _run_probe(python: Path) -> dict[str, object]:
    packaging_root = str(Path(packaging.__file__).resolve().parent.parent)
    try:
        completed = subprocess.run(
            [str(python), "-I", "-c", _PROBE, packaging_root],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentProbeError(
            f"cannot run target interpreter {python}: {exc}",
            hint="pass a working interpreter with --python",
        ) from None
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProbeError(
            f"target interpreter {python} failed to report its environment: {last}",
            hint="spip supports target interpreters of Python 3.8 and newer",
        )
    data: dict[str, object] = json.loads(completed.stdout)
    return data


def interpreter_facts(python: Path, cache_dir: Path | None) -> dict[str, object]:
    """Markers, tags, sys.path and prefix of ``python`` (cached by interpreter identity)."""
    key = _identity(python)
    cached = cache_dir / "interpreters" / f"{key}.json" if cache_dir else None
    if cached is not None:
        try:
            data: dict[str, object] = json.loads(cached.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            pass
    data = _run_probe(python)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".partial-", dir=cached.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(temp, cached)
        except OSError:
            pass
    return data


def _headers(path: Path) -> dict[str, list[str]]:
    """The header block of a METADATA / PKG-INFO file (fast: stops at the body)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    match = _HEADER_END.search(text)
    block = text[: match.start()] if match else text
    headers: dict[str, list[str]] = {}
    last = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and last:
            headers[last][-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip().lower()
        headers.setdefault(last, []).append(value.strip())
    return headers


def scan_distributions(
    sys_path: list[str],
) -> tuple[
    dict[NormalizedName, Version],
    dict[NormalizedName, Path],
    dict[NormalizedName, tuple[str, ...]],
]:
    """Installed distributions on ``sys_path``: versions, dist-info dirs, Requires-Dist."""
    installed: dict[NormalizedName, Version] = {}
    locations: dict[NormalizedName, Path] = {}
    requires: dict[NormalizedName, tuple[str, ...]] = {}
    for entry in sys_path:
        directory = Path(entry or ".")
        try:
            children = sorted(os.listdir(directory))
        except OSError:
            continue
        for child in children:
            if child.endswith(".dist-info"):
                meta = directory / child / "METADATA"
            elif child.endswith(".egg-info"):
                meta = directory / child / "PKG-INFO"
                if not meta.exists() and (directory / child).is_file():
                    meta = directory / child
            else:
                continue
            headers = _headers(meta)
            names = headers.get("name")
            versions = headers.get("version")
            if not names or not versions:
                continue
            name = canonicalize_name(names[0])
            if name in installed:
                continue
            try:
                installed[name] = Version(versions[0])
            except InvalidVersion:
                continue
            locations[name] = directory / child
            requires[name] = tuple(headers.get("requires-dist", ()))
    return installed, locations, requires


def probe(python: Path, cache_dir: Path | None = None) -> TargetEnvironment:
    """Inspect ``python``: cached interpreter facts, freshly scanned distributions."""
    if cache_dir is None:
        from pipx_secure.index.cache import default_cache_dir

        cache_dir = default_cache_dir()
    facts = interpreter_facts(python, cache_dir)
    sys_path = [str(p) for p in facts["sys_path"]]  # type: ignore[attr-defined]
    installed, locations, requires = scan_distributions(sys_path)
    return TargetEnvironment(
        python=python,
        markers=facts["markers"],  # type: ignore[arg-type]
        tags=tuple(next(iter(parse_tag(t))) for t in facts["tags"]),  # type: ignore[attr-defined]
        installed=installed,
        prefix=Path(str(facts["prefix"])),
        locations=locations,
        requires=requires,
    )


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


def environment_for(python_version: str, platform: str) -> TargetEnvironment:
    """A described (not running) environment to lock for, like ``pip download --platform``."""
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
    supported = list(tag_module.cpython_tags(python_version=major_minor, platforms=[platform]))
    supported += list(
        tag_module.compatible_tags(
            python_version=major_minor, interpreter=interpreter, platforms=[platform]
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
