"""The target environment: which interpreter pip installs into, and what it holds.

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

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import packaging
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import EnvironmentProbeError, UsageError
from pipx_secure.fs import atomic_write, venv_python
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.model.environment import TargetEnvironment

PROBE_VERSION = 5
_PROBE = r"""
import json, site, sys, sysconfig
from importlib.util import MAGIC_NUMBER
own_path = [p for p in sys.path]
sys.path.insert(0, sys.argv[1])
from packaging import markers, tags
paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable,
    "markers": markers.default_environment(),
    "tags": [str(t) for t in tags.sys_tags()],
    "sys_path": own_path,
    "prefix": sys.prefix,
    "scheme": {k: paths[k] for k in ("purelib", "platlib", "scripts", "data")},
    "user_site": site.getusersitepackages(),
    "user_base": site.getuserbase(),
    "virtualenv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    "magic": MAGIC_NUMBER.hex(),
    "cache_tag": sys.implementation.cache_tag or "",
}))
"""
_HEADER_END = re.compile(r"\r?\n\r?\n")


@dataclass(frozen=True)
class InterpreterFacts:
    """What the probe reports about an interpreter (checked where it enters)."""

    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    sys_path: tuple[str, ...]
    prefix: Path
    scheme: Mapping[str, str]
    user_site: str
    user_base: str
    virtualenv: bool
    magic: str = ""  # importlib.util.MAGIC_NUMBER, hex: whose bytecode this interpreter loads
    cache_tag: str = ""  # sys.implementation.cache_tag ("" when it writes no bytecode)

    @classmethod
    def from_json(cls, data: Any) -> InterpreterFacts:
        """Validate the probe's JSON; ValueError when its shape is wrong."""
        if not isinstance(data, dict):
            raise ValueError("probe output is not an object")
        keys = ("markers", "tags", "sys_path", "prefix", "scheme", "user_site", "user_base")
        markers, tags, sys_path, prefix, scheme, user_site, user_base = (data.get(k) for k in keys)
        virtualenv = data.get("virtualenv")
        magic, cache_tag = data.get("magic", ""), data.get("cache_tag", "")
        if not (
            isinstance(markers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in markers.items())
            and isinstance(tags, list)
            and all(isinstance(t, str) for t in tags)
            and isinstance(sys_path, list)
            and all(isinstance(p, str) for p in sys_path)
            and isinstance(prefix, str)
            and isinstance(scheme, dict)
            and all(isinstance(v, str) for v in scheme.values())
            and isinstance(user_site, str)
            and isinstance(user_base, str)
            and isinstance(virtualenv, bool)
            and isinstance(magic, str)
            and all(c in "0123456789abcdef" for c in magic)
            and isinstance(cache_tag, str)
            and all(c.isalnum() or c in "-_" for c in cache_tag)
        ):
            raise ValueError("probe output has the wrong shape")
        return cls(
            markers=dict(markers),
            tags=tuple(next(iter(parse_tag(t))) for t in tags),
            sys_path=tuple(sys_path),
            prefix=Path(prefix),
            scheme=dict(scheme),
            user_site=user_site,
            user_base=user_base,
            virtualenv=virtualenv,
            magic=magic,
            cache_tag=cache_tag,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in the cache."""
        return {
            "markers": dict(self.markers),
            "tags": [str(t) for t in self.tags],
            "sys_path": list(self.sys_path),
            "prefix": str(self.prefix),
            "scheme": dict(self.scheme),
            "user_site": self.user_site,
            "user_base": self.user_base,
            "virtualenv": self.virtualenv,
            "magic": self.magic,
            "cache_tag": self.cache_tag,
        }


def choose_python(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The target interpreter: ``--python``, else the active virtualenv, else spip's own."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            found_in_dir = venv_python(path)
            if found_in_dir is None:
                raise UsageError(
                    f"--python {explicit}: no interpreter in that directory",
                    hint="pass a Python executable or a virtualenv directory",
                )
            return found_in_dir
        if not path.exists():
            found = shutil.which(explicit)
            if found is None:
                raise UsageError(f"--python {explicit}: no such interpreter")
            path = Path(found)
        return path
    venv = env.get("VIRTUAL_ENV")
    if venv:
        active = venv_python(Path(venv))
        if active is not None:
            return active
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


def _run_probe(python: Path, processes: Processes) -> InterpreterFacts:
    packaging_root = str(Path(packaging.__file__).resolve().parent.parent)
    done = processes.run(
        [str(python), "-I", "-c", _PROBE, packaging_root], ChildKind.PROBE, timeout=120
    )
    if not done.ok:
        raise EnvironmentProbeError(
            f"target interpreter {python} failed to report its environment: {done.last_line()}",
            hint="pass a working interpreter with --python (Python 3.8 or newer)",
        )
    try:
        return InterpreterFacts.from_json(json.loads(done.stdout))
    except ValueError as exc:
        raise EnvironmentProbeError(
            f"target interpreter {python} reported an unreadable environment: {exc}",
            hint="pass a working CPython or PyPy interpreter with --python",
        ) from None


def interpreter_facts(
    python: Path, cache: ArtifactCache | None, processes: Processes | None = None
) -> InterpreterFacts:
    """Markers, tags, sys.path and prefix of ``python`` (cached, sealed, by its identity)."""
    identity = _identity(python)
    path = cache.root / "interpreters" / f"{identity}.json" if cache is not None else None
    if cache is not None and path is not None:
        try:
            data = cache.sealer.open_bytes("interpreter", identity, path.read_bytes())
            if data is not None:
                return InterpreterFacts.from_json(json.loads(data))
            cache.warn("interpreter facts", path)
        except (OSError, ValueError):
            pass
    facts = _run_probe(python, processes or Processes())
    if cache is not None and path is not None:
        with contextlib.suppress(OSError):
            data = json.dumps(facts.to_json()).encode()
            atomic_write(path, cache.sealer.seal_bytes("interpreter", identity, data))
    return facts


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


def _metadata_file(directory: Path, child: str) -> Path | None:
    if child.endswith(".dist-info"):
        return directory / child / "METADATA"
    if child.endswith(".egg-info"):
        meta = directory / child / "PKG-INFO"
        if not meta.exists() and (directory / child).is_file():
            return directory / child
        return meta
    return None


@dataclass(frozen=True)
class Installed:
    """Installed distributions on a ``sys.path``: versions, dist-info dirs, Requires-Dist."""

    versions: Mapping[NormalizedName, Version]
    locations: Mapping[NormalizedName, Path]
    requires: Mapping[NormalizedName, tuple[str, ...]]


def scan_distributions(sys_path: tuple[str, ...] | list[str]) -> Installed:
    """The distributions on ``sys_path``, first one of each name wins (as importlib does)."""
    versions: dict[NormalizedName, Version] = {}
    locations: dict[NormalizedName, Path] = {}
    requires: dict[NormalizedName, tuple[str, ...]] = {}
    for entry in sys_path:
        directory = Path(entry or ".")
        try:
            children = sorted(os.listdir(directory))
        except OSError:
            continue
        for child in children:
            meta = _metadata_file(directory, child)
            if meta is None:
                continue
            headers = _headers(meta)
            names, found_versions = headers.get("name"), headers.get("version")
            if not names or not found_versions:
                continue
            name = canonicalize_name(names[0])
            if name in versions:
                continue
            try:
                versions[name] = Version(found_versions[0])
            except InvalidVersion:
                continue
            locations[name] = directory / child
            requires[name] = tuple(headers.get("requires-dist", ()))
    return Installed(versions, locations, requires)


def probe(
    python: Path,
    cache: ArtifactCache | None = None,
    processes: Processes | None = None,
    *,
    site_dirs: tuple[str, ...] | None = None,
) -> TargetEnvironment:
    """Inspect ``python``: cached interpreter facts, freshly scanned distributions.

    ``site_dirs`` replaces the interpreter's ``sys.path`` for the scan (``--target`` and
    similar installs judge what is installed *there*).
    """
    facts = interpreter_facts(python, cache, processes)
    found = scan_distributions(site_dirs if site_dirs is not None else facts.sys_path)
    return TargetEnvironment(
        python=python,
        markers=facts.markers,
        tags=facts.tags,
        installed=found.versions,
        prefix=facts.prefix,
        locations=found.locations,
        requires=found.requires,
        scheme=facts.scheme,
        user_site=facts.user_site,
        user_base=facts.user_base,
        virtualenv=facts.virtualenv,
        magic=facts.magic,
        cache_tag=facts.cache_tag,
    )


def site_dirs_for(
    target: TargetEnvironment,
    *,
    target_dir: str | None = None,
    prefix: str | None = None,
    root: str | None = None,
    user: bool = False,
    user_base: str | None = None,
) -> tuple[str, ...] | None:
    """Where an install with pip's location options puts packages (None: the usual site).

    ``user_base``: ``PYTHONUSERBASE``, which moves the user site.
    """
    if target_dir:
        return (os.path.abspath(target_dir),)
    if user:
        if user_base and target.user_base:
            return (str(Path(user_base) / os.path.relpath(target.user_site, target.user_base)),)
        return (target.user_site,)
    if not (prefix or root):
        return None
    dirs = []
    for key in ("purelib", "platlib"):
        path = Path(target.scheme[key])
        if prefix:
            path = Path(os.path.abspath(prefix)) / os.path.relpath(path, target.prefix)
        if root:
            path = Path(os.path.abspath(root)) / str(path).lstrip(os.sep)
        dirs.append(str(path))
    return tuple(dict.fromkeys(dirs))
