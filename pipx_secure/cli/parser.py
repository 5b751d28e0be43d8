"""The argument parser of ``spip`` (argparse), built from small tables.

Options that would undo the source map are refused by name with the map setting that replaces
them (:data:`pipx_secure.model.reqline.REFUSED_OPTIONS`, the table requirement files use too).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pipx_secure import __version__
from pipx_secure.cli.options import LOCK_OPTIONS, SYNC_OPTIONS
from pipx_secure.cli.pip_install import BY_NAME, PIP_INSTALL, Support
from pipx_secure.commands.passthrough import PASSTHROUGH
from pipx_secure.errors import UsageError
from pipx_secure.model.reqline import REFUSED_OPTIONS


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are spip's UsageError (one line, exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


class _Refuse(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        option = BY_NAME.get(str(option_string))
        reason = option.note if option is not None else REFUSED_OPTIONS[str(option_string)]
        raise UsageError(f"option {option_string} is refused by spip", hint=reason)


_MAP_HELP = "source map (default: spip.toml or [tool.spip] in pyproject.toml, searched upward)"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", metavar="FILE", type=Path, help=_MAP_HELP)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less output")


def _files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("requirements", nargs="*", metavar="REQ", help="requirement specifiers")
    for flags, help_text in (
        (("-r", "--requirement"), "install from a requirements file"),
        (("-c", "--constraint"), "constrain versions with a constraints file"),
    ):
        parser.add_argument(
            *flags, action="append", default=[], type=Path, metavar="FILE", help=help_text
        )


def _install(sub: Any) -> None:
    install = sub.add_parser(
        "install",
        help="install packages, each from its assigned index only",
        description="Like `pip install`, but every package (direct, transitive, extra or build "
        "dependency) is resolved from the index the source map assigns to its name; pip then "
        "installs offline from verified, hash-pinned artifacts.",
        allow_abbrev=False,
    )
    install.add_argument("--map", metavar="FILE", type=Path, help=_MAP_HELP)
    install.add_argument("requirements", nargs="*", metavar="REQ", help="requirement specifiers")
    for option in PIP_INSTALL:
        if option.arg.get("action") == "help":
            continue
        if option.support is Support.REFUSED:
            install.add_argument(*option.names, action=_Refuse, nargs="?", help=argparse.SUPPRESS)
        else:
            install.add_argument(*option.names, help=option.note, **option.arg)
    install.add_argument(
        "--installer",
        choices=("pip", "uv"),
        default=None,
        help="spip's own: the program that installs the verified wheelhouse, pip (default) or "
        "uv; both run offline over the same verified, hash-pinned wheels",
    )
    _allow_overwrite(install)


def _allow_overwrite(parser: Any) -> None:
    parser.add_argument(
        "--allow-overwrite",
        metavar="NAME",
        action="append",
        default=[],
        help="spip's own: let NAME write files that a distribution from another index owns "
        "(refused by default: module shadowing); the map's [install] allow-overwrite is the same",
    )


def _auth(sub: Any) -> None:
    auth = sub.add_parser(
        "auth",
        help="store or check an index password in keyring",
        description="Credentials helpers. Passwords are read from a prompt (never echoed) or "
        "from standard input with --stdin, never from the command line.",
        allow_abbrev=False,
    )
    actions = auth.add_subparsers(dest="auth_command", metavar="ACTION", parser_class=Parser)
    store = actions.add_parser("set", help="store the password of INDEX in keyring")
    _common(store)
    store.add_argument("index", metavar="INDEX")
    store.add_argument("--username", help="username (default: the map's username)")
    store.add_argument("--stdin", action="store_true", help="read the password from stdin")
    pypirc = actions.add_parser(
        "import-pypirc",
        help="move the passwords of a ~/.pypirc into keyring",
        description="Store each password of a .pypirc in keyring where the map's index on the "
        "same origin looks it up (its URL), or under the repository URL with the [indexes] "
        "entry to add. pip never reads .pypirc; passwords in it are plain text on disk.",
    )
    _common(pypirc)
    pypirc.add_argument("--file", type=Path, default=Path("~/.pypirc"), metavar="PATH")
    pypirc.add_argument(
        "--remove",
        action="store_true",
        help="rewrite the file without its password lines once they are in keyring",
    )
    check = actions.add_parser("check", help="try the stored credential against INDEX")
    _common(check)
    check.add_argument("index", metavar="INDEX")


def _lock_and_sync(sub: Any) -> None:
    lock = sub.add_parser(
        "lock",
        help="resolve through the source map and write a PEP 751 pylock.toml",
        description="Resolve requirements (arguments, -r files, or [project] dependencies of "
        "pyproject.toml) through the source map and write a standard PEP 751 lock with each "
        "package's index and hashes, its requires-python and environments: the target "
        "interpreter, the --python-version/--platform environments, or the map's "
        "environments = [...] markers. An existing lock's pins are kept unless --upgrade or "
        "--upgrade-package NAME; unchanged inputs rewrite nothing.",
        allow_abbrev=False,
    )
    _common(lock)
    _files(lock)
    for flags, kwargs in LOCK_OPTIONS:
        lock.add_argument(*flags, **kwargs)
    sync = sub.add_parser(
        "sync",
        help="install exactly what a pylock.toml selects, from the map's indexes only",
        description="Install what a PEP 751 lock (spip's, pip's, uv's, pdm's) selects for the "
        "target environment, through the same air-gapped pip path. Refuses a lock whose "
        "package sources disagree with the source map or that does not cover the target. Files "
        "already in spip's cache or --wheelhouse with the lock's hash need no index; the others "
        "are matched on the assigned index (hash, then normalized name) and must carry the "
        "lock's hash.",
        allow_abbrev=False,
    )
    _common(sync)
    sync.add_argument("lockfile", nargs="?", type=Path, default=Path("pylock.toml"))
    sync.add_argument("--python", metavar="PYTHON")
    sync.add_argument(
        "--exact", action="store_true", help="also uninstall distributions the lock does not list"
    )
    sync.add_argument("--dry-run", action="store_true")
    for flags, kwargs in SYNC_OPTIONS:
        sync.add_argument(*flags, **kwargs)
    _allow_overwrite(sync)


def _audit(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="where did every installed distribution come from, and what will Python run?",
        description="For every distribution of an environment: the index the map assigns, and "
        "whether the installed files are that index's artifact (verified, installed-by-spip, "
        "accepted, mismatch, not-on-assigned-index, unverifiable); every file of the site and "
        "scripts directories owned by a RECORD or reported unowned; .pth files, "
        "sitecustomize and bytecode checked; then which private names also exist on the "
        "default (public) index. Exit codes: 0 every finding verified or accepted, 1 findings, "
        "2 could not audit.",
        allow_abbrev=False,
    )
    _common(audit)
    audit.add_argument("--python", metavar="PYTHON", help="interpreter or virtualenv to audit")
    audit.add_argument(
        "--format",
        choices=("table", "json", "sarif", "cyclonedx"),
        default=None,
        help="output format: a table (default), JSON (schema 2), SARIF 2.1.0 or CycloneDX 1.6",
    )
    audit.add_argument("--json", action="store_true", help="the same as --format json")
    audit.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="NAME[==VERSION]",
        help="accept this distribution when it cannot be verified (built from an sdist, "
        "installed from a path); repeatable; never hides a mismatch or unowned file",
    )
    audit.add_argument(
        "--full-download",
        action="store_true",
        help="read wheels' RECORD files from whole, hash-checked downloads instead of HTTP "
        "range requests (slower; the index's published hash then covers every RECORD)",
    )
    audit.add_argument(
        "--no-exposure",
        action="store_true",
        help="skip the exposure scan (it asks the default index about private names, without "
        "credentials)",
    )


def _check_audit_explain(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="validate the source map and verify requirement files and locks against it",
        description="For Makefiles and CI. Exit codes: 0 clean, 1 findings, 2 usage or input "
        "error. Offline unless --online.",
        allow_abbrev=False,
    )
    _common(check)
    check.add_argument(
        "files", nargs="*", type=Path, metavar="FILE", help="requirement files and PEP 751 locks"
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--online",
        action="store_true",
        help="also confirm every pinned version exists on its assigned index, and every "
        "lock file's hash equals what that index publishes now",
    )
    _audit(sub)
    explain = sub.add_parser(
        "explain",
        help="say which index serves each name, and which rule decided it",
        allow_abbrev=False,
    )
    _common(explain)
    explain.add_argument("names", nargs="+", metavar="NAME")


def _init(sub: Any) -> None:
    init = sub.add_parser(
        "init",
        help="write a source map from pip's settings, moving passwords into keyring",
        description="Find every index configured for this project and user (pip's configuration "
        "and PIP_* variables, .env files, ~/.pypirc, ~/.netrc, requirement files, pyproject.toml "
        "[tool.uv.index] / [[tool.poetry.source]] / [[tool.pdm.source]], the Makefile); ask each "
        "private index which of the project's requirements it serves; write the map; store every "
        "password found in keyring. The public index is asked nothing unless --check-exposure.",
        allow_abbrev=False,
    )
    _common(init)
    init.add_argument("-o", "--output", type=Path, metavar="FILE", help="where to write the map")
    init.add_argument(
        "--pyproject", action="store_true", help="write [tool.spip] into pyproject.toml instead"
    )
    init.add_argument(
        "--dry-run", action="store_true", help="print the map; write and store nothing"
    )
    init.add_argument(
        "--rewrite",
        action="store_true",
        help="take the passwords out of the files that held them (backups kept, mode 0600)",
    )
    init.add_argument("--yes", action="store_true", help="do not ask before --rewrite")
    init.add_argument("--force", action="store_true", help="replace an existing spip.toml")
    init.add_argument(
        "--check-exposure",
        action="store_true",
        help="also ask the default (public) index, without credentials, whether it has the "
        "routed names (this reveals them to it)",
    )


def _fetch(sub: Any) -> None:
    for name, dest, help_text in (
        ("download", ("-d", "--dest"), "download the artifacts, each from its assigned index"),
        ("wheel", ("-w", "--wheel-dir"), "build wheels, every dependency from its index"),
    ):
        command = sub.add_parser(
            name,
            help=help_text,
            description=f"Like `pip {name}`: the same routed resolution and verified downloads "
            "as `spip install`; nothing is installed.",
            allow_abbrev=False,
        )
        _common(command)
        _files(command)
        command.add_argument(*dest, dest="dest", type=Path, default=Path("."), metavar="DIR")
        command.add_argument("--python", metavar="PYTHON")
        for flag in ("--no-deps", "--pre", "--prefer-binary"):
            command.add_argument(flag, action="store_true")
        for flag in ("--only-binary", "--no-binary", "--platform", "--abi"):
            command.add_argument(flag, action="append", default=[])
        command.add_argument("--python-version")
        command.add_argument("--implementation")


def _passthrough(sub: Any) -> None:
    for name, text in PASSTHROUGH.items():
        passthrough = sub.add_parser(
            name,
            help=text,
            description=f"{text}. Runs the target environment's pip (no network involved); "
            "every argument after the command goes to pip unchanged.",
            allow_abbrev=False,
            add_help=False,
        )
        passthrough.add_argument("--python", metavar="PYTHON")
        passthrough.add_argument("pip_args", nargs=argparse.REMAINDER)


def _version() -> str:
    import platform
    import sys

    from pip import __version__ as pip_version

    return (
        f"spip {__version__} (pip {pip_version}, Python {platform.python_version()} at "
        f"{sys.executable})"
    )


def build_parser() -> Parser:
    """The argument parser of ``spip``."""
    parser = Parser(
        prog="spip",
        description="pip with per-package source pinning: every package comes from the index "
        "the source map assigns to its name, and only from there.",
        allow_abbrev=False,
    )
    parser.add_argument("-V", "--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _install(sub)
    _fetch(sub)
    _init(sub)
    _passthrough(sub)
    _auth(sub)
    _lock_and_sync(sub)
    _check_audit_explain(sub)
    return parser
