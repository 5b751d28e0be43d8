"""Small filesystem helpers, each written once: atomic writes, links, venv interpreters."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path


def atomic_write(
    path: Path, data: bytes | str | Sequence[bytes | memoryview], *, mode: int | None = None
) -> None:
    """Write ``data`` (or its parts, one after another) to ``path`` through a temporary file
    in the same directory and a rename.

    Readers see the old file or the new one, never a part.  ``mode`` sets the permission bits
    before the rename (for files holding anything private).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, (bytes, str)):
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            else:
                handle.writelines(data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def link_or_copy(source: Path, dest: Path) -> None:
    """Hard-link ``source`` to ``dest`` (same filesystem), else copy it."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def venv_python(directory: Path) -> Path | None:
    """The interpreter of the virtual environment at ``directory``, if it has one."""
    for candidate in (directory / "bin" / "python", directory / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None
