"""Taking passwords out of the files that held them (``spip init --rewrite``).

The file is rewritten in place without the password: ``user:password@`` in a URL becomes
``user@``, a ``.pypirc`` ``password`` line is removed.  The original is kept beside it as a
backup readable by its owner only (mode 0600), named without any secret.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pipx_secure.fs import atomic_write


@dataclass(frozen=True)
class Rewritten:
    """A file rewritten without its passwords, and where the original was kept."""

    path: Path
    backup: Path
    removed: int


def scrub(text: str, passwords: Sequence[str]) -> tuple[str, int]:
    """``text`` without ``passwords`` in URLs or in ``password =`` lines; how many removed."""
    removed = 0
    for password in sorted(set(passwords), key=len, reverse=True):
        for spelled in dict.fromkeys((password, quote(password, safe=""))):
            pattern = re.compile(r"(://[^/\s:@]*):" + re.escape(spelled) + "@")
            text, count = pattern.subn(r"\1@", text)
            removed += count
            line = re.compile(
                r"^[ \t]*password[ \t]*[:=][ \t]*" + re.escape(spelled) + r"[ \t]*\r?\n?", re.M
            )
            text, count = line.subn("", text)
            removed += count
    return text, removed


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".spip-backup")
    number = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.spip-backup-{number}")
        number += 1
    return candidate


def rewrite(path: Path, passwords: Sequence[str]) -> Rewritten | None:
    """Rewrite ``path`` without ``passwords`` (None when it holds none of them)."""
    original = path.read_text(encoding="utf-8")
    text, removed = scrub(original, passwords)
    if not removed:
        return None
    backup = _backup_path(path)
    atomic_write(backup, original, mode=0o600)
    mode = path.stat().st_mode & 0o777
    atomic_write(path, text, mode=mode)
    return Rewritten(path, backup, removed)


_INDEX_OPTION = re.compile(
    r"^(?P<line>[ \t]*(?:-i|--index-url|--extra-index-url|-f|--find-links|--trusted-host)"
    r"(?:[ \t=].*)?)$",
    re.M,
)


def comment_index_options(path: Path) -> Rewritten | None:
    """Comment out index options in a requirement file: the source map replaces them."""
    original = path.read_text(encoding="utf-8")
    text, removed = _INDEX_OPTION.subn(
        r"# spip init: the source map routes every name now: \g<line>", original
    )
    if not removed:
        return None
    backup = _backup_path(path)
    atomic_write(backup, original, mode=0o600)
    atomic_write(path, text, mode=path.stat().st_mode & 0o777)
    return Rewritten(path, backup, removed)
