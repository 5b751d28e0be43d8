"""The shape of the package, checked: one door for processes, no casts, no silenced types.

The layer rules themselves are import-linter contracts in pyproject.toml (``lint-imports``
runs in ``make test``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pipx_secure"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_process_door_imports_subprocess() -> None:
    importers = [p.relative_to(PACKAGE) for p in modules() if "subprocess" in imported(p)]
    assert importers == [Path("install/process.py")]


def test_no_silenced_types_and_no_isinstance_casts() -> None:
    offenders = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        if "type: ignore" in text:
            offenders.append(f"{path}: type: ignore")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Assert)
                and isinstance(node.test, ast.Call)
                and getattr(node.test.func, "id", "") == "isinstance"
            ):
                offenders.append(f"{path}:{node.lineno}: assert isinstance")
    assert offenders == []


def test_modules_and_functions_stay_readable() -> None:
    """A guide, not a law: no module over 450 lines, no function over 60."""
    long = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > 450:
            long.append(f"{path}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > 60:
                    long.append(f"{path}:{node.lineno} {node.name}: {size} lines")
    assert long == []
