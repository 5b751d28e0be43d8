"""Finding and reading the source map: ``--map``, else ``spip.toml`` or ``[tool.spip]`` upward.

Reading the file and asking pip for its configured index are the only I/O here; validation is
:func:`pipx_secure.model.maptoml.parse_source_map`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipx_secure.errors import PolicyError, SourceMapError
from pipx_secure.model.maptoml import PipDefault, parse_source_map
from pipx_secure.model.sourcemap import SourceMap

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib


@dataclass(frozen=True)
class MapSearch:
    """Where a map was looked for, and what was found (for ``-v`` and errors)."""

    found: Path | None
    looked_in: tuple[Path, ...]


def pip_default_from(environ: Mapping[str, str] | None) -> PipDefault:
    """pip's configured index for ``environ`` (read only when a map needs it)."""

    def read() -> tuple[str, tuple[str, ...]]:
        from pipx_secure.config.pipconfig import read_pip_index_config

        config = read_pip_index_config(environ)
        return config.index_url, config.ignored

    return read


def refuse_several_indexes(environ: Mapping[str, str] | None) -> None:
    """Without a map, several configured indexes are the dependency-confusion setup: refuse."""
    from pipx_secure.config.pipconfig import read_pip_index_config
    from pipx_secure.model.redact import redact

    config = read_pip_index_config(environ)
    found = [(config.index_url, f"index-url, {config.index_origin}")]
    for key in ("extra-index-url", "find-links"):
        found += [(value, f"{key}, {origin}") for value, origin in config.values(key)]
    distinct = {url.rstrip("/") for url, _where in found}
    if len(distinct) > 1:
        shown = "; ".join(f"{redact(url)} ({where})" for url, where in found)
        raise PolicyError(
            f"no source map, and pip is configured with {len(distinct)} indexes: {shown}; spip "
            "will not guess which of them serves which name",
            hint="run `spip init` to write a map that routes each name to one index, or pass --map",
        )


def read_toml(path: Path, what: str = "source map") -> tuple[dict[str, Any], str]:
    """The decoded TOML of ``path`` and its text; errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SourceMapError(f"cannot read {what}: {reason}", location=str(path)) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise SourceMapError(
            f"invalid TOML: {exc}", location=str(path), hint="fix the TOML syntax"
        ) from None


def search_source_map(start: Path) -> MapSearch:
    """The nearest ``spip.toml``, or ``pyproject.toml`` with ``[tool.spip]``, from ``start`` up."""
    looked: list[Path] = []
    for directory in (start, *start.parents):
        looked.append(directory)
        candidate = directory / "spip.toml"
        if candidate.is_file():
            return MapSearch(candidate, tuple(looked))
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if isinstance(data.get("tool"), dict) and "spip" in data["tool"]:
                return MapSearch(pyproject, tuple(looked))
    return MapSearch(None, tuple(looked))


def find_source_map(start: Path) -> Path | None:
    """The nearest map file from ``start`` upward, or None."""
    return search_source_map(start).found


def load_source_map(
    explicit: Path | None = None,
    *,
    cwd: Path | None = None,
    pip_default: PipDefault | None = None,
    environ: Mapping[str, str] | None = None,
) -> SourceMap:
    """Load the map: ``explicit`` (``--map``), else the nearest one from ``cwd`` upward.

    With no map anywhere, every name goes to pip's configured index (a one-index map).
    """
    default = pip_default or pip_default_from(environ)
    path = explicit
    if path is None:
        path = find_source_map((cwd or Path.cwd()).resolve())
    if path is None:
        if pip_default is None:
            refuse_several_indexes(environ)
        return parse_source_map({}, origin="(no source map)", pip_default=default)
    if explicit is not None and not path.is_file():
        raise SourceMapError(
            "source map not found", location=str(path), hint="check the --map path"
        )
    data, text = read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "spip" not in tool:
            raise SourceMapError(
                "no [tool.spip] table", location=str(path), hint="add [tool.spip] or use spip.toml"
            )
        data = tool["spip"]
        prefix = "tool.spip"
    return parse_source_map(
        data,
        origin=os.path.relpath(path) if not explicit else str(path),
        text=text,
        base_dir=path.parent,
        pip_default=default,
        table_prefix=prefix,
    )
