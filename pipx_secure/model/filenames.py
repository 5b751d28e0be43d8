"""Distribution file names: wheels (PEP 427, PEP 491) and sdists (PEP 625), parsed purely."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import IntegrityError

_WHEEL_SUFFIX = ".whl"
_SDIST_SUFFIXES = (".tar.gz", ".zip")
_MAX_SHOWN = 200


@dataclass(frozen=True)
class Distribution:
    """What a distribution file name tells: project, version, and for wheels tags and build."""

    name: NormalizedName
    version: Version
    tags: frozenset[Tag] | None
    """The wheel's compatibility tags; None for an sdist."""
    build: BuildTag = ()
    """The wheel build tag, ``()`` when absent and for sdists."""


def shown(text: str) -> str:
    """``text`` safe to print: capped in length, non-printable characters escaped."""
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def parse_filename(filename: str) -> Distribution:
    """Project, version, tags and build tag of a wheel or sdist file name.

    Raises :class:`IntegrityError` when ``filename`` is not a valid wheel (PEP 427) or sdist
    (``.tar.gz``/``.zip``) name.
    """
    try:
        if filename.endswith(_WHEEL_SUFFIX):
            name, version, build, tags = parse_wheel_filename(filename)
            return Distribution(name, version, frozenset(tags), build)
        if filename.endswith(_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return Distribution(name, version, None, ())
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion, ValueError):
        raise IntegrityError(
            f"invalid distribution file name {shown(repr(filename))}",
            hint="wheel names are NAME-VERSION(-BUILD)-PY-ABI-PLATFORM.whl; sdists "
            "NAME-VERSION.tar.gz",
        ) from None
    raise IntegrityError(
        f"unsupported file type {shown(repr(filename))}",
        hint="only wheels (.whl) and sdists (.tar.gz, .zip) are installable",
    )


def _canonical_tags(parts: list[str]) -> str:
    """``py3.py2-none-ANY`` as ``py2.py3-none-any``: each compressed tag set sorted, lower-case."""
    return "-".join(".".join(sorted(set(part.lower().split(".")))) for part in parts)


def normalized_filename(filename: str) -> str:
    """The canonical spelling of a distribution file name (PEP 427 / PEP 625 normalization).

    Two names that differ only in spelling (``PySocks-1.7.1-py3-none-any.whl`` and
    ``pysocks-1.7.1-py3-none-any.whl``) normalize to the same string: the project name
    PEP 503-normalized with ``_`` for ``-``, the version PEP 440-normalized, the build tag
    kept, each compressed tag set sorted and lower-cased.  Raises :class:`IntegrityError` for a
    name that is not a wheel or sdist name.
    """
    parsed = parse_filename(filename)
    project = parsed.name.replace("-", "_")
    if parsed.tags is None:
        suffix = next(s for s in _SDIST_SUFFIXES if filename.lower().endswith(s))
        return f"{project}-{parsed.version}{suffix}"
    build = f"-{parsed.build[0]}{parsed.build[1]}" if parsed.build else ""
    tags = _canonical_tags(filename[: -len(_WHEEL_SUFFIX)].split("-")[-3:])
    return f"{project}-{parsed.version}{build}-{tags}{_WHEEL_SUFFIX}"
