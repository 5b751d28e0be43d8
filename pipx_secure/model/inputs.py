"""Requirements from places other than requirement files (parsed purely).

- PEP 723 inline script metadata: the ``# /// script`` block of a Python file, TOML with
  ``dependencies`` and ``requires-python`` (``--requirements-from-script``);
- PEP 735 dependency groups of ``pyproject.toml`` (``--group [PATH:]NAME``), resolved with
  ``packaging.dependency_groups``, includes followed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from pipx_secure.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


@dataclass(frozen=True)
class ScriptMetadata:
    """A script's PEP 723 ``script`` block."""

    dependencies: tuple[str, ...]
    requires_python: str | None


def script_metadata(text: str, origin: str) -> ScriptMetadata:
    """The ``script`` block of a Python file (PEP 723); errors name the file."""
    blocks = [m for m in _BLOCK.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise InputError("more than one `# /// script` block (PEP 723)", location=origin)
    if not blocks:
        raise InputError(
            "no `# /// script` metadata block (PEP 723)",
            location=origin,
            hint="add `# /// script` ... `# ///` with a dependencies list",
        )
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML in the script block: {exc}", location=origin) from None
    dependencies = data.get("dependencies", [])
    requires = data.get("requires-python")
    if not isinstance(dependencies, list) or not all(isinstance(d, str) for d in dependencies):
        raise InputError("`dependencies` must be a list of strings", location=origin)
    if requires is not None and not isinstance(requires, str):
        raise InputError("`requires-python` must be a string", location=origin)
    if requires is not None:
        try:
            SpecifierSet(requires)
        except InvalidSpecifier:
            raise InputError(
                f"invalid `requires-python` {requires!r} in the script block",
                location=origin,
                hint="a version specifier such as '>=3.10'",
            ) from None
    return ScriptMetadata(tuple(dependencies), requires)


def dependency_group(
    pyproject: Mapping[str, Any], names: Sequence[str], origin: str
) -> tuple[str, ...]:
    """The requirements of PEP 735 groups ``names`` of a parsed ``pyproject.toml``."""
    from packaging.dependency_groups import resolve_dependency_groups

    table = pyproject.get("dependency-groups")
    if not isinstance(table, Mapping):
        raise InputError("no [dependency-groups] table (PEP 735)", location=origin)
    missing = [n for n in names if n not in table]
    if missing:
        raise InputError(
            f"no dependency group {missing[0]!r}",
            location=origin,
            hint="groups here: " + ", ".join(sorted(table) or ["(none)"]),
        )
    try:
        return tuple(resolve_dependency_groups(table, *names))
    except (ValueError, TypeError, LookupError) as exc:
        raise InputError(f"invalid [dependency-groups]: {exc}", location=origin) from None
