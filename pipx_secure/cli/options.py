"""Option tables of ``spip lock`` and ``spip sync`` (``spip install``'s: ``pip_install``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: ``spip lock``'s options beyond the requirement inputs.
LOCK_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-o", "--output"), dict(type=Path, default=Path("pylock.toml"), metavar="FILE")),
    (("--python",), dict(metavar="PYTHON", help="interpreter to lock for")),
    (
        ("--python-version",),
        dict(
            metavar="X.Y",
            help="lock for this Python version instead of an interpreter (with --platform)",
        ),
    ),
    (
        ("--platform",),
        dict(
            action="append",
            default=[],
            metavar="TAG",
            help="wheel platform tag to lock for (repeat for a multi-platform lock), as in pip "
            "download",
        ),
    ),
    (("--pre",), dict(action="store_true")),
    (
        ("-U", "--upgrade"),
        dict(
            action="store_true",
            help="move every pin to the newest allowed version (default: keep the existing "
            "lock's pins where they still fit)",
        ),
    ),
    (
        ("-P", "--upgrade-package"),
        dict(
            action="append",
            default=[],
            metavar="NAME",
            help="move only NAME to its newest allowed version; every other pin is kept (repeat)",
        ),
    ),
)

#: ``spip sync``'s options beyond the lock file, target, --exact and --dry-run.
SYNC_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--offline",),
        dict(
            action="store_true",
            help="never use the network: every file must be in spip's cache or --wheelhouse "
            "(found by the lock's hashes); a missing file fails at once, naming each",
        ),
    ),
    (
        ("--wheelhouse",),
        dict(
            metavar="DIR",
            type=Path,
            help="a directory of files to take the lock's files from, matched by hash only "
            "(their names mean nothing); used before any index",
        ),
    ),
    (
        ("--extra",),
        dict(action="append", default=[], metavar="EXTRA", help="install the lock's extra"),
    ),
    (("--all-extras",), dict(action="store_true", help="install every extra the lock declares")),
    (
        ("--group",),
        dict(
            action="append",
            default=[],
            metavar="GROUP",
            help="install the lock's dependency group (PEP 735), besides its default groups",
        ),
    ),
    (("--all-groups",), dict(action="store_true", help="install every group the lock declares")),
    (
        ("--no-default-groups",),
        dict(action="store_true", help="leave out the lock's default-groups"),
    ),
)
