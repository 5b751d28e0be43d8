"""Building sdists into wheels, offline, with routed build dependencies.

For a verified sdist: unpack it safely, read ``[build-system]`` (PEP 517/518; legacy projects
get setuptools' legacy backend), resolve ``requires`` through the same routed resolver, install
those verified wheels into a fresh virtual environment of the target interpreter with the
air-gapped pip, ask the backend for more (``get_requires_for_build_wheel``, resolved and
installed the same way), then build the wheel.  No build step can reach an index: the backend
runs with a scrubbed environment and pip with ``--no-index``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename

from pipx_secure.errors import BuildError, IntegrityError, SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.pipargs import (
    PipOptions,
    RequirementEntry,
    build_pip_install_args,
    render_requirements,
    run,
    scrubbed_env,
)
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest, file_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LEGACY_REQUIRES = ("setuptools>=40.8.0",)
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
MAX_DEPTH = 8


@dataclass(frozen=True)
class WheelFile:
    """A verified wheel ready for installation."""

    name: NormalizedName
    version: str
    path: Path
    digest: Digest


#: Resolve build requirements through the source map and return their verified wheels.
Distribution = Literal["wheel", "editable"]
BuildResolver = Callable[[Sequence[Requirement], str, int], "list[WheelFile]"]


def safe_extract(archive_path: Path, dest: Path, filename: str) -> Path:
    """Extract an sdist refusing absolute paths, ``..``, links out of the tree and devices."""
    dest = dest.resolve()
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(archive_path) as archive:
                for name in archive.namelist():
                    target = (dest / name).resolve()
                    if not str(target).startswith(str(dest) + os.sep):
                        raise IntegrityError(f"sdist {filename} has an unsafe path {name!r}")
                archive.extractall(dest)
        else:
            with tarfile.open(archive_path, "r:*") as archive:
                members = archive.getmembers()
                for member in members:
                    target = (dest / member.name).resolve()
                    if not str(target).startswith(str(dest) + os.sep):
                        raise IntegrityError(f"sdist {filename} has an unsafe path {member.name!r}")
                    if member.isdev() or member.issym() or member.islnk():
                        link = (target.parent / member.linkname).resolve()
                        if member.isdev() or not str(link).startswith(str(dest) + os.sep):
                            raise IntegrityError(
                                f"sdist {filename} has an unsafe member {member.name!r}"
                            )
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(dest, filter="data")
                else:  # pragma: no cover - old patch releases
                    archive.extractall(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise IntegrityError(f"sdist {filename} cannot be unpacked: {exc}") from None
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def read_build_system(source: Path, what: str) -> tuple[list[Requirement], str, list[str]]:
    """(requires, backend, backend-path) of a source tree (PEP 517/518 defaults)."""
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return [Requirement(r) for r in LEGACY_REQUIRES], LEGACY_BACKEND, []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise BuildError(f"{what}: invalid pyproject.toml: {exc}") from None
    system = data.get("build-system")
    if system is None:
        return [Requirement(r) for r in LEGACY_REQUIRES], LEGACY_BACKEND, []
    requires = system.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BuildError(f"{what}: [build-system] requires must be a list of strings")
    try:
        parsed = [Requirement(r) for r in requires]
    except InvalidRequirement as exc:
        raise BuildError(f"{what}: invalid build requirement: {exc}") from None
    backend = system.get("build-backend", LEGACY_BACKEND)
    backend_path = system.get("backend-path", [])
    if not isinstance(backend, str) or not isinstance(backend_path, list):
        raise BuildError(f"{what}: invalid build-backend or backend-path")
    return parsed, backend, [str(p) for p in backend_path]


class Builder:
    """Builds verified sdists into wheels for one target interpreter."""

    def __init__(
        self,
        target: TargetEnvironment,
        cache: ArtifactCache,
        resolve_build: BuildResolver,
        environ: Mapping[str, str],
        secrets: Callable[[], Sequence[str]],
        *,
        verbose: bool = False,
    ) -> None:
        self.target = target
        self.cache = cache
        self.resolve_build = resolve_build
        self.environ = dict(environ)
        self.secrets = secrets
        self.verbose = verbose

    def build_wheel(
        self, name: NormalizedName, version: str, sdist: Path, digest: Digest, depth: int = 0
    ) -> WheelFile:
        """The wheel built from ``sdist`` (cached by the sdist's digest and interpreter)."""
        if depth > MAX_DEPTH:
            raise BuildError(f"build dependencies of {name} nest too deeply (a cycle?)")
        out_dir = self.cache.built_dir(digest, self.target.interpreter_key)
        existing = self._existing(out_dir, name, version)
        if existing is not None:
            return existing
        with self.cache.lock(digest):
            existing = self._existing(out_dir, name, version)
            if existing is not None:
                return existing
            with tempfile.TemporaryDirectory(prefix="spip-build-") as temp:
                wheel = self._build(name, version, sdist, Path(temp), depth)
                out_dir.mkdir(parents=True, exist_ok=True)
                final = out_dir / wheel.name
                shutil.copyfile(wheel, out_dir / (".partial-" + wheel.name))
                os.replace(out_dir / (".partial-" + wheel.name), final)
        found = self._existing(out_dir, name, version)
        assert found is not None
        return found

    def _existing(self, out_dir: Path, name: NormalizedName, version: str) -> WheelFile | None:
        if not out_dir.is_dir():
            return None
        for path in sorted(out_dir.glob("*.whl")):
            wheel_name, wheel_version, _, _ = parse_wheel_filename(path.name)
            if wheel_name == name and str(wheel_version) == version:
                return WheelFile(name, version, path, Digest("sha256", file_digest(path)))
        return None

    def build_local(self, source: Path, out_dir: Path, *, editable: bool = False) -> Path:
        """Build a local project directory into a wheel (PEP 660 editable wheel if asked)."""
        what = f"{source} (local project)"
        if not (source / "pyproject.toml").is_file() and not (source / "setup.py").is_file():
            raise BuildError(
                f"{source} is not a Python project (no pyproject.toml or setup.py)",
                hint="pass a project directory, a wheel or an sdist",
            )
        with tempfile.TemporaryDirectory(prefix="spip-build-") as temp:
            built = self._build_tree(
                source, what, Path(temp), 0, "editable" if editable else "wheel"
            )
            out_dir.mkdir(parents=True, exist_ok=True)
            final = out_dir / built.name
            shutil.copyfile(built, final)
        return final

    def _build(
        self, name: NormalizedName, version: str, sdist: Path, work: Path, depth: int
    ) -> Path:
        what = f"{name} {version} (sdist)"
        source = safe_extract(sdist, work / "src", sdist.name)
        built = self._build_tree(source, what, work, depth, "wheel")
        wheel_name, wheel_version, _, _ = parse_wheel_filename(built.name)
        if wheel_name != name or str(wheel_version) != version:
            raise IntegrityError(
                f"building {what} produced {built.name}, which is another project or version"
            )
        return built

    def _build_tree(
        self, source: Path, what: str, work: Path, depth: int, distribution: Distribution
    ) -> Path:
        requires, _backend, _backend_path = read_build_system(source, what)
        env_dir = work / "env"
        python = self._make_env(env_dir, what)
        self._install(python, requires, f"build dependencies of {what}", work, depth)

        from build import ProjectBuilder
        from build._exceptions import BuildBackendException

        base_env = scrubbed_env(self.environ, self.secrets())
        base_env.pop("PIP_CONFIG_FILE", None)
        base_env["PIP_CONFIG_FILE"] = os.devnull
        base_env["PIP_NO_INDEX"] = "1"
        log = work / "build.log"

        def runner(
            cmd: Sequence[str],
            cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None,
        ) -> None:
            env = {**base_env, **(extra_environ or {})}
            with log.open("a", encoding="utf-8") as handle:
                completed = subprocess.run(
                    list(cmd),
                    cwd=cwd,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    check=False,
                )
            if completed.returncode != 0:
                raise subprocess.CalledProcessError(completed.returncode, list(cmd))

        try:
            builder = ProjectBuilder(str(source), python_executable=str(python), runner=runner)
            extra = builder.get_requires_for_build(distribution)
            more = [Requirement(r) for r in sorted(extra)]
            if more:
                self._install(
                    python, requires + more, f"backend requirements of {what}", work, depth
                )
            out = work / "dist"
            built = Path(builder.build(distribution, str(out)))
        except (BuildBackendException, subprocess.CalledProcessError, OSError) as exc:
            tail = _tail(log)
            raise BuildError(
                f"building {what} failed: {type(exc).__name__}{': ' + tail if tail else ''}",
                hint="the build ran offline with only routed build dependencies; run with -v "
                "for the backend's output",
            ) from None
        except InvalidRequirement as exc:
            raise BuildError(f"{what}: backend asked for an invalid requirement: {exc}") from None
        return built

    def _make_env(self, env_dir: Path, what: str) -> Path:
        completed = run(
            [str(self.target.python), "-m", "venv", "--without-pip", str(env_dir)],
            scrubbed_env(self.environ, self.secrets()),
            capture=True,
        )
        if completed.returncode != 0:
            raise BuildError(f"cannot create a build environment for {what}")
        for candidate in (env_dir / "bin" / "python", env_dir / "Scripts" / "python.exe"):
            if candidate.exists():
                return candidate
        raise BuildError(f"build environment for {what} has no interpreter")

    def _install(
        self, python: Path, requires: Sequence[Requirement], why: str, work: Path, depth: int
    ) -> None:
        if not requires:
            return
        try:
            wheels = self.resolve_build(requires, why, depth + 1)
        except SpipError:
            raise
        if not wheels:
            return
        house = work / f"wheelhouse-{len(list(work.glob('wheelhouse-*')))}"
        house.mkdir()
        for wheel in wheels:
            _link(wheel.path, house / wheel.path.name)
        req_file = house / "requirements.txt"
        req_file.write_text(
            render_requirements(RequirementEntry(w.name, w.version, w.digest) for w in wheels),
            encoding="utf-8",
        )
        argv = build_pip_install_args(
            target_python=python,
            wheelhouse=house,
            requirements_file=req_file,
            options=PipOptions(quiet=1, compile=False),
        )
        completed = run(argv, scrubbed_env(self.environ, self.secrets()), capture=True)
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise BuildError(f"installing {why} failed: {last}")


def _link(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _tail(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def canonical(name: str) -> NormalizedName:
    """PEP 503 name (re-exported for callers building requirement lists)."""
    return canonicalize_name(name)
