"""One target environment's machinery: routed pages, metadata, builds and local sources.

A :class:`Workspace` wires the planner's Protocols to real parts for one target: pages through
:class:`~pipx_secure.index.pages.RoutedPages`, metadata through
:class:`~pipx_secure.install.metadata.ArtifactMetadata`, builds whose build requirements are
resolved by the same planner and source map.  It resolves and fetches; it never installs into
the target (that is :func:`pipx_secure.install.apply.apply`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName

from pipx_secure.errors import SpipError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.pages import RoutedPages
from pipx_secure.index.transport import Transport, expected_digest
from pipx_secure.install.builder import Builder
from pipx_secure.install.metadata import ArtifactMetadata
from pipx_secure.install.phases import Phases
from pipx_secure.install.preparer import LocalArtifact, LocalPreparer, local_requirement
from pipx_secure.install.process import Processes
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Pin
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.planner import Resolution, Roots, resolve
from pipx_secure.resolve.settings import ResolveSettings
from pipx_secure.resolve.sources import LocalSource


@dataclass(frozen=True)
class BuildOptions:
    """How local builds run: backend settings, build constraints, where checkouts go."""

    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    constraints: Mapping[NormalizedName, SpecifierSet] = field(default_factory=dict)
    src_dir: Path | None = None


def _quiet(text: str) -> None:
    """No progress display."""


class Workspace:
    """Resolution and fetching for one target environment, routed through one source map."""

    def __init__(
        self,
        source_map: SourceMap,
        target: TargetEnvironment,
        transport: Transport,
        cache: ArtifactCache,
        processes: Processes,
        build: BuildOptions | None = None,
    ) -> None:
        self.build = build or BuildOptions()
        self.source_map = source_map
        self.target = target
        self.transport = transport
        self.cache = cache
        self.processes = processes
        self.pages = RoutedPages(source_map, transport)
        self.builder = Builder(
            target, cache, self._resolve_build, processes, self.build.config_settings
        )
        self.metadata = ArtifactMetadata(transport, cache, self.builder)
        self._workdir = Path(tempfile.mkdtemp(prefix="spip-local-"))
        self.preparer = LocalPreparer(
            transport, self.builder, processes, self._workdir, self.build.src_dir
        )
        self.local: dict[NormalizedName, LocalArtifact] = {}
        self.phases = Phases()
        self.step: Callable[[str], None] = _quiet
        self.builder.step = self._step

    def _step(self, text: str) -> None:
        self.step(text)

    def close(self) -> None:
        """Remove the work directory (the transport belongs to the caller)."""
        shutil.rmtree(self._workdir, ignore_errors=True)
        self.phases.write(self.processes.environ)

    def route_name(self, name: NormalizedName) -> str:
        """The index a name should come from ("local" for local projects, "?" if unrouted)."""
        if name in self.local:
            return "local"
        try:
            return str(self.source_map.index_for(name).index.name)
        except SpipError:
            return "?"

    def add_sources(self, sources: Sequence[LocalSource]) -> list[Req]:
        """Prepare local sources; each becomes the only candidate for its name."""
        reqs = []
        for source in sources:
            artifact = self.preparer.artifact(source, self.metadata)
            self.local[artifact.candidate.name] = artifact
            reqs.append(local_requirement(artifact, source))
        return reqs

    def resolve(
        self,
        requirements: Sequence[Req],
        constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
        settings: ResolveSettings | None = None,
        *,
        installed_preferred: bool = True,
        metadata: ArtifactMetadata | None = None,
    ) -> Resolution:
        """Resolve through the source map; nothing is installed."""
        roots = Roots(
            tuple(requirements),
            dict(constraints or {}),
            {name: artifact.candidate for name, artifact in self.local.items()},
        )
        with self.phases.span("resolution"):
            return resolve(
                roots,
                settings or ResolveSettings(),
                self.pages,
                metadata or self.metadata,
                self.target,
                installed_preferred=installed_preferred,
                on_pin=self._step,
            )

    def _resolve_build(
        self, requires: Sequence[Requirement], why: str, depth: int
    ) -> list[WheelFile]:
        markers = dict(self.target.markers, extra="")
        reqs = [
            Req.from_requirement(r, source=why)
            for r in requires
            if r.marker is None or r.marker.evaluate(markers)
        ]
        metadata = ArtifactMetadata(self.transport, self.cache, self.builder, depth)
        resolution = resolve(
            Roots(tuple(reqs)),
            ResolveSettings(),
            self.pages,
            metadata,
            self.target,
            installed_preferred=False,
        )
        return self.fetch(resolution, resolution.plan.pins, depth, metadata)

    def fetch(
        self,
        resolution: Resolution,
        pins: Sequence[Pin],
        depth: int = 0,
        metadata: ArtifactMetadata | None = None,
        on_wheel: Callable[[WheelFile], None] | None = None,
    ) -> list[WheelFile]:
        """Download (in parallel, verified) and build what ``pins`` need; returns wheels.

        ``on_wheel`` is called with each wheel as soon as it is verified (downloads in the
        order they finish, then built wheels), while the others are still on their way.
        """
        wheels = [self.local[p.name].wheel for p in pins if p.name in self.local]
        for wheel in wheels:
            if on_wheel is not None:
                on_wheel(wheel)
        candidates = [resolution.candidates[p.name] for p in pins if p.name not in self.local]
        started = time.perf_counter()
        futures = {
            self.transport.submit(self.transport.download, c.index, c.link): c for c in candidates
        }
        source = metadata or self.metadata
        done: dict[NormalizedName, WheelFile] = {}
        sdists: list[tuple[Candidate, Path]] = []
        for future in as_completed(futures):
            candidate = futures[future]
            path = future.result()
            if not candidate.link.is_wheel:
                sdists.append((candidate, path))
                continue
            source.confirm(candidate, path)
            digest = expected_digest(candidate.index, candidate.link)
            wheel = WheelFile(candidate.name, str(candidate.version), path, digest)
            done[candidate.name] = wheel
            if on_wheel is not None:
                on_wheel(wheel)
        self.phases.add("download", started, time.perf_counter())
        for candidate, path in sorted(sdists, key=lambda item: item[0].name):
            with self.phases.span("build"):
                done[candidate.name] = self._built(candidate, path, source, depth)
            if on_wheel is not None:
                on_wheel(done[candidate.name])
        return wheels + [done[c.name] for c in candidates]

    def _built(
        self, candidate: Candidate, path: Path, source: ArtifactMetadata, depth: int
    ) -> WheelFile:
        digest = expected_digest(candidate.index, candidate.link)
        wheel = source.built.get(str(digest))
        if wheel is None:
            wheel = self.builder.build_wheel(
                candidate.name, str(candidate.version), path, digest, depth
            )
            source.confirm(candidate, wheel.path)
        return wheel
