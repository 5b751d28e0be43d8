"""Building sdists and local projects into wheels, offline, with routed build dependencies.

For a verified sdist: unpack it safely, read ``[build-system]`` (PEP 517/518; legacy projects
get setuptools' legacy backend), resolve ``requires`` through the same routed resolver, install
those verified wheels into a fresh build environment, ask the backend for more
(``get_requires_for_build_wheel``, resolved and installed the same way), then build the wheel
through ``build.ProjectBuilder``.  No build step can reach an index: the backend runs through
the process door with the build policy, and pip with ``--no-index``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, parse_wheel_filename

from pipx_secure.errors import BuildError, IntegrityError
from pipx_secure.fs import atomic_write
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.install.archives import read_build_system, safe_extract
from pipx_secure.install.buildenv import BuildEnvironment
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest

MAX_DEPTH = 8
Distribution = Literal["wheel", "editable"]
#: Resolve build requirements through the source map and return their verified wheels.
BuildResolver = Callable[[Sequence[Requirement], str, int], "list[WheelFile]"]


def _tail(log: Path) -> str:
    try:
        lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


class Builder:
    """Builds verified sdists and local projects into wheels for one target interpreter."""

    def __init__(
        self,
        target: TargetEnvironment,
        cache: ArtifactCache,
        resolve_build: BuildResolver,
        processes: Processes,
        config_settings: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.config_settings = dict(config_settings or {})
        self.target = target
        self.cache = cache
        self.resolve_build = resolve_build
        self.processes = processes
        self.step: Callable[[str], None] = lambda text: None  # tells a progress display

    def build_wheel(
        self, name: NormalizedName, version: str, sdist: Path, digest: Digest, depth: int = 0
    ) -> WheelFile:
        """The wheel built from ``sdist`` (cached by the sdist's digest and interpreter)."""
        if depth > MAX_DEPTH:
            raise BuildError(f"build dependencies of {name} nest too deeply (a cycle?)")
        out_dir = self.cache.built_dir(digest, self.target.interpreter_key)
        existing = self._existing(out_dir, name, version, digest)
        if existing is not None:
            return existing
        with self.cache.lock(digest):
            existing = self._existing(out_dir, name, version, digest)
            if existing is None:
                with tempfile.TemporaryDirectory(prefix="spip-build-") as temp:
                    wheel = self._build_sdist(name, version, sdist, Path(temp), depth)
                    atomic_write(out_dir / wheel.name, wheel.read_bytes())
                    key = self.target.interpreter_key
                    self.cache.seal_built(out_dir / wheel.name, digest, key)
                existing = self._existing(out_dir, name, version, digest)
        if existing is None:
            raise BuildError(f"building {name} {version} left no wheel in the cache")
        return existing

    def _existing(
        self, out_dir: Path, name: NormalizedName, version: str, sdist: Digest
    ) -> WheelFile | None:
        """The wheel built earlier from ``sdist``, if its seal proves spip built it."""
        if not out_dir.is_dir():
            return None
        for path in sorted(out_dir.glob("*.whl")):
            wheel_name, wheel_version, _, _ = parse_wheel_filename(path.name)
            if wheel_name != name or str(wheel_version) != version:
                continue
            verified = self.cache.built_digest(path, sdist, self.target.interpreter_key)
            if verified is not None:
                return WheelFile(name, version, path, verified)
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
            kind: Distribution = "editable" if editable else "wheel"
            built = self._build_tree(source, what, Path(temp), 0, kind)
            out_dir.mkdir(parents=True, exist_ok=True)
            final = out_dir / built.name
            shutil.copyfile(built, final)
        return final

    def _build_sdist(
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

    def _install(
        self, env: BuildEnvironment, requires: Sequence[Requirement], why: str, depth: int
    ) -> None:
        if requires:
            env.install(self.resolve_build(requires, why, depth + 1), why, self.processes)

    def _build_tree(
        self, source: Path, what: str, work: Path, depth: int, distribution: Distribution
    ) -> Path:
        from build import ProjectBuilder
        from build._exceptions import BuildBackendException

        self.step(f"building {what}")
        system = read_build_system(source, what)
        env = BuildEnvironment.create(self.target.python, work / "env", self.processes)
        self._install(env, system.requires, f"build dependencies of {what}", depth)
        log = work / "build.log"
        home = work / "home"  # a fresh, empty HOME: no netrc, keyring or tool settings
        home.mkdir(exist_ok=True)

        def runner(
            cmd: Sequence[str],
            cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None,
        ) -> None:
            done = self.processes.run(
                cmd,
                ChildKind.BUILD,
                cwd=cwd,
                extra_env={**(extra_environ or {}), "HOME": str(home)},
                log=log,
            )
            if not done.ok:
                raise BuildError(f"the build backend exited with status {done.returncode}")

        try:
            project = ProjectBuilder.from_isolated_env(env, source, runner=runner)
            settings = self.config_settings or None
            asked = project.get_requires_for_build(distribution, settings)
            extra = [Requirement(r) for r in sorted(asked)]
            if extra:
                more = [*system.requires, *extra]
                self._install(env, more, f"backend requirements of {what}", depth)
            out = str(work / "dist")
            return Path(project.build(distribution, out, settings))
        except (BuildBackendException, OSError) as exc:
            tail = _tail(log)
            raise BuildError(
                f"building {what} failed: {type(exc).__name__}{': ' + tail if tail else ''}",
                hint="the build ran offline with only routed build dependencies; run with -v "
                "for the backend's output",
            ) from None
        except InvalidRequirement as exc:
            raise BuildError(f"{what}: backend asked for an invalid requirement: {exc}") from None
