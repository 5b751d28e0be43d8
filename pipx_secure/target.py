"""The target environment: which interpreter pip installs into, and what it is.

One subprocess (the target interpreter, isolated mode) reports its PEP 508 marker
environment, its supported wheel tags (packaging.tags), and its installed distributions.  When
the target is spip's own interpreter, no subprocess is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import packaging
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import EnvironmentProbeError, UsageError

_PROBE = r"""
import json, sys
own_path = [p for p in sys.path]
sys.path.insert(0, sys.argv[1])
from packaging import markers, tags
try:
    from importlib import metadata
except ImportError:
    metadata = None
installed = {}
locations = {}
requires = {}
if metadata is not None:
    for dist in metadata.distributions(path=own_path):
        name = dist.metadata["Name"]
        if name and name not in installed:
            installed[name] = dist.version
            requires[name] = list(dist.requires or [])
            path = getattr(dist, "_path", None)
            if path is not None:
                locations[name] = str(path)
print(json.dumps({
    "executable": sys.executable,
    "markers": markers.default_environment(),
    "tags": [str(t) for t in tags.sys_tags()],
    "installed": installed,
    "locations": locations,
    "requires": requires,
    "prefix": sys.prefix,
}))
"""


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


def probe(python: Path) -> TargetEnvironment:
    """Inspect ``python`` (one isolated subprocess)."""
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
    data = json.loads(completed.stdout)
    installed: dict[NormalizedName, Version] = {}
    locations: dict[NormalizedName, Path] = {}
    requires: dict[NormalizedName, tuple[str, ...]] = {}
    for name, version in sorted(data["installed"].items()):
        try:
            installed.setdefault(canonicalize_name(name), Version(version))
        except InvalidVersion:
            continue
        requires.setdefault(canonicalize_name(name), tuple(data["requires"].get(name, ())))
        if name in data["locations"]:
            locations.setdefault(canonicalize_name(name), Path(data["locations"][name]))
    return TargetEnvironment(
        python=python,
        markers=data["markers"],
        tags=tuple(next(iter(parse_tag(t))) for t in data["tags"]),
        installed=installed,
        prefix=Path(data["prefix"]),
        locations=locations,
        requires=requires,
    )
