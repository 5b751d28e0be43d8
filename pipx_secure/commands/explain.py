"""``spip explain NAME...``: which index serves each name, and which rule decided it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from pipx_secure.commands.context import Services
from pipx_secure.errors import SpipError


@dataclass(frozen=True)
class ExplainSettings:
    """``spip explain``'s arguments."""

    names: tuple[str, ...]
    map_path: Path | None = None


@dataclass(frozen=True)
class ExplainResult:
    """One sentence per name, and the exit code (the worst routing error's)."""

    lines: tuple[str, ...]
    exit_code: int


def run(settings: ExplainSettings, services: Services) -> ExplainResult:
    """Route every name through the map and say why."""
    source_map = services.load_map(settings.map_path)
    lines = []
    status = 0
    for name in settings.names:
        try:
            lines.append(source_map.index_for(name).explain())
        except SpipError as exc:
            lines.append(f"{canonicalize_name(name)} -> (none): {exc.render()}")
            status = exc.exit_code
    return ExplainResult(tuple(lines), status)
