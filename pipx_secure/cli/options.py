"""Option tables of spip's commands: what pip users type, and what spip refuses by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Options of ``spip install`` pip users type, refused on the command line (not silently).
REFUSED_ON_COMMAND_LINE = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--trusted-host",
)


#: (flags, argparse keyword arguments) of ``spip install`` beyond the requirement inputs.
INSTALL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("-e", "--editable"),
        dict(
            action="append",
            default=[],
            metavar="PATH",
            help="install a local project in editable mode (PEP 660), its dependencies routed",
        ),
    ),
    (
        ("--python",),
        dict(
            metavar="PYTHON",
            help="target interpreter or virtualenv (default: the active "
            "virtualenv, else spip's own interpreter)",
        ),
    ),
    (("--dry-run",), dict(action="store_true", help="resolve and show the plan only")),
    (
        ("--report",),
        dict(
            metavar="FILE",
            type=Path,
            help="write pip's installation report (JSON, '-' for "
            "stdout), with each package's index",
        ),
    ),
    (("--pre",), dict(action="store_true", help="allow pre-releases")),
    (("--no-deps",), dict(action="store_true", help="do not install dependencies")),
    (
        ("-U", "--upgrade"),
        dict(action="store_true", help="upgrade the named packages to the newest allowed versions"),
    ),
    (
        ("--upgrade-strategy",),
        dict(choices=("only-if-needed", "eager"), default="only-if-needed", help="as in pip"),
    ),
    (("--force-reinstall",), dict(action="store_true", help="reinstall everything")),
    (
        ("--only-binary",),
        dict(
            action="append",
            default=[],
            metavar="FORMAT",
            help=":all:, :none: or package names: wheels only",
        ),
    ),
    (
        ("--no-binary",),
        dict(
            action="append",
            default=[],
            metavar="FORMAT",
            help=":all:, :none: or package names: build from sdists",
        ),
    ),
    (("--prefer-binary",), dict(action="store_true", help="prefer older wheels over newer sdists")),
    (
        ("--installer",),
        dict(
            choices=("pip", "uv"),
            default=None,
            help="the program that installs the verified "
            "wheelhouse: pip (default) or uv; both run offline over the same verified, "
            "hash-pinned wheels",
        ),
    ),
    (
        ("--require-hashes",),
        dict(
            action="store_true",
            help="every package must be pinned with --hash in the "
            "requirement files, and the index's file must match",
        ),
    ),
    (("--no-compile",), dict(action="store_true", help="do not byte-compile")),
    (("--no-input",), dict(action="store_true", help="accepted; spip never prompts")),
    (("--target",), dict(metavar="DIR", help="install into DIR (pip's --target)")),
    (("--user",), dict(action="store_true", help="install to the user site")),
)


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
