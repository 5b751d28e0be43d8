"""``spip list --outdated`` / ``--uptodate``: newer versions, asked of each name's index only.

pip would ask its configured indexes about every installed name, private ones included (a
leak of internal names to a public index).  spip asks each name's assigned index, through the
same routing as ``spip install``; names the map does not route are left out with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.commands.context import Services
from pipx_secure.errors import SpipError


@dataclass(frozen=True)
class OutdatedSettings:
    """``spip list -o/-u`` flags (pip's)."""

    uptodate: bool = False
    pre: bool = False
    python: str | None = None
    map_path: Path | None = None
    output_format: str = "columns"


@dataclass(frozen=True)
class Row:
    """One installed distribution and the newest version its index offers."""

    name: NormalizedName
    version: Version
    latest: Version
    filetype: str
    index: str


@dataclass(frozen=True)
class OutdatedResult:
    """The rows to show, and names that could not be checked."""

    rows: tuple[Row, ...]
    notes: tuple[str, ...]


def run(settings: OutdatedSettings, services: Services) -> OutdatedResult:
    """For each installed distribution, the newest version on its assigned index."""
    from pipx_secure.index.pages import RoutedPages
    from pipx_secure.resolve.finder import evaluate_page

    source_map = services.load_map(settings.map_path)
    target = services.target(settings.python)
    transport = services.transport()
    pages = RoutedPages(source_map, transport)
    rows: list[Row] = []
    notes: list[str] = []
    try:
        routed = []
        for name in sorted(target.installed):
            try:
                source_map.index_for(name)
                routed.append(name)
            except SpipError as exc:
                notes.append(f"{name}: not checked: {exc.render()}")
        pages.prefetch(routed)
        for name in routed:
            try:
                evaluation = evaluate_page(
                    pages.page(name),
                    pages.index_for(name),
                    python_version=target.python_version,
                    tag_priority=target.tag_priority(),
                )
            except SpipError as exc:
                notes.append(f"{name}: not checked: {exc.render()}")
                continue
            found = [
                c for c in evaluation.candidates if settings.pre or not c.version.is_prerelease
            ]
            if not found:
                continue
            newest = found[0]
            installed = target.installed[name]
            if (newest.version > installed) != settings.uptodate:
                filetype = "wheel" if newest.link.is_wheel else "sdist"
                rows.append(Row(name, installed, newest.version, filetype, str(newest.index.name)))
    finally:
        transport.close()
    return OutdatedResult(tuple(rows), tuple(notes))
