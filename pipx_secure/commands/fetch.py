"""``spip download -d DIR`` and ``spip wheel -w DIR``: pip's interface, spip's pipeline.

The same routed resolution as ``spip install`` (each name from its assigned index only), the
same verified downloads (hashed while they stream), the same offline builds; then the files
are copied out: ``download`` gives the chosen artifacts (wheels, or sdists where the plan
builds one), ``wheel`` gives wheels (sdists built offline with routed build dependencies).
Nothing is installed anywhere.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipx_secure.commands.context import Services
from pipx_secure.commands.install_target import Described, described_target, gather
from pipx_secure.errors import IntegrityError
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import file_digest
from pipx_secure.model.plan import Pin
from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs
from pipx_secure.resolve.settings import ResolveSettings
from pipx_secure.resolve.sources import classify


@dataclass(frozen=True)
class FetchSettings:
    """``spip download`` / ``spip wheel`` flags."""

    dest: Path
    wheels: bool = False
    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    constraint_files: tuple[Path, ...] = ()
    map_path: Path | None = None
    python: str | None = None
    resolve: ResolveSettings = field(default_factory=ResolveSettings)
    described: Described = field(default_factory=Described)


@dataclass(frozen=True)
class FetchResult:
    """The files written, each with its sha256 (checked against what the index published)."""

    files: tuple[tuple[Path, str], ...]


def _target(settings: FetchSettings, services: Services) -> TargetEnvironment:
    if settings.described:
        return described_target(services, settings.python, settings.described)
    return replace(services.target(settings.python), installed={})


def run(settings: FetchSettings, services: Services) -> FetchResult:
    """Resolve through the map, download and verify (and build for ``wheel``), copy out."""

    source_map = services.load_map(settings.map_path)
    combined = gather(
        services.cwd, settings.requirements, settings.requirement_files, settings.constraint_files
    )
    target = _target(settings, services)
    transport = services.transport()
    workspace = services.workspace(source_map, target, transport)
    try:
        sources = [s for s in (classify(line, source_map) for line in combined.requirements) if s]
        reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
        reqs += workspace.add_sources(sources)
        with services.reporter.status(f"Resolving {len(reqs)} requirement(s)"):
            resolution = workspace.resolve(
                reqs,
                constraints_map(combined.constraints, target.markers),
                settings.resolve,
                installed_preferred=False,
            )
        settings.dest.mkdir(parents=True, exist_ok=True)
        if settings.wheels:
            paths = [w.path for w in workspace.fetch(resolution, resolution.plan.pins)]
        else:
            candidates = [resolution.candidates[p.name] for p in resolution.plan.pins]
            paths = [transport.download(c.index, c.link) for c in candidates]
        written = []
        for path in paths:
            copy = settings.dest / path.name
            shutil.copyfile(path, copy)
            written.append((copy, file_digest(copy)))
        _check(resolution.plan.pins, written, settings.wheels)
    finally:
        workspace.close()
        transport.close()
    return FetchResult(tuple(written))


def _check(pins: Sequence[Pin], written: list[tuple[Path, str]], wheels: bool) -> None:
    """Every file copied out still has the hash its index published (downloads)."""
    if wheels:
        return
    by_name = {p.filename: p.digest for p in pins}
    for path, digest in written:
        expected = by_name.get(path.name)
        if expected is not None and expected.algorithm == "sha256" and not expected.matches(digest):
            raise IntegrityError(f"{path.name} changed while it was copied out")
