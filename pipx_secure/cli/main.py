"""The command line: the only module that prints.

Flags become frozen settings here; errors from the core are rendered as one line
(``spip: error: ...``) and mapped to the exit codes documented in ``errors.EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from packaging.utils import canonicalize_name

from pipx_secure import __version__
from pipx_secure.errors import SpipError, UsageError

if TYPE_CHECKING:
    from pipx_secure.model.reqfile import RequirementLine

REFUSED_INSTALL_OPTIONS: dict[str, str] = {
    "-i": "the source map decides each package's index: set `default` or a rule in spip.toml",
    "--index-url": "the source map decides each package's index: set `default` in spip.toml",
    "--extra-index-url": "mixing indexes is what enables dependency confusion: add the index "
    "to spip.toml [indexes] and route names to it under [packages]",
    "--no-index": "spip always runs pip with --no-index over verified artifacts already",
    "-f": "local find-links bypass the source map: serve those files from an index in spip.toml",
    "--find-links": "local find-links bypass the source map: serve those files from an index in "
    "spip.toml",
    "--trusted-host": "set a per-index `ca-bundle` in spip.toml instead of disabling TLS checks",
}

_secrets_seen: list[str] = []

PASSTHROUGH = {
    "uninstall": "uninstall packages from the target environment",
    "list": "list installed packages",
    "freeze": "output installed packages in requirements format",
    "show": "show information about installed packages",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


class _Refuse(argparse.Action):
    def __call__(
        self, parser: object, namespace: object, values: object, option: object = None
    ) -> None:
        raise UsageError(
            f"option {option} is refused by spip", hint=REFUSED_INSTALL_OPTIONS[str(option)]
        )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map",
        metavar="FILE",
        type=Path,
        help="source map (default: spip.toml or [tool.spip] in pyproject.toml, searched upward)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``spip``."""
    parser = _Parser(
        prog="spip",
        description="pip with per-package source pinning: every package comes from the index "
        "the source map assigns to its name, and only from there.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"spip {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    install = sub.add_parser(
        "install",
        help="install packages, each from its assigned index only",
        description="Like `pip install`, but every package (direct, transitive, extra or build "
        "dependency) is resolved from the index the source map assigns to its name; pip then "
        "installs offline from verified, hash-pinned artifacts.",
        allow_abbrev=False,
    )
    _common(install)
    install.add_argument("requirements", nargs="*", metavar="REQ", help="requirement specifiers")
    install.add_argument(
        "-r",
        "--requirement",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="install from a requirements file",
    )
    install.add_argument(
        "-c",
        "--constraint",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="constrain versions with a constraints file",
    )
    install.add_argument(
        "-e",
        "--editable",
        action="append",
        default=[],
        metavar="PATH",
        help="install a local project in editable mode (PEP 660), its dependencies routed",
    )
    install.add_argument(
        "--python",
        metavar="PYTHON",
        help="target interpreter or virtualenv "
        "(default: the active virtualenv, else spip's own interpreter)",
    )
    install.add_argument("--dry-run", action="store_true", help="resolve and show the plan only")
    install.add_argument(
        "--report",
        metavar="FILE",
        type=Path,
        help="write pip's installation report (JSON, '-' for stdout), with each package's index",
    )
    install.add_argument("--pre", action="store_true", help="allow pre-releases")
    install.add_argument("--no-deps", action="store_true", help="do not install dependencies")
    install.add_argument(
        "-U",
        "--upgrade",
        action="store_true",
        help="upgrade the named packages to the newest allowed versions",
    )
    install.add_argument(
        "--upgrade-strategy",
        choices=("only-if-needed", "eager"),
        default="only-if-needed",
        help="as in pip",
    )
    install.add_argument("--force-reinstall", action="store_true", help="reinstall everything")
    install.add_argument(
        "--only-binary",
        action="append",
        default=[],
        metavar="FORMAT",
        help=":all:, :none: or package names: wheels only",
    )
    install.add_argument(
        "--no-binary",
        action="append",
        default=[],
        metavar="FORMAT",
        help=":all:, :none: or package names: build from sdists",
    )
    install.add_argument(
        "--prefer-binary", action="store_true", help="prefer older wheels over newer sdists"
    )
    install.add_argument(
        "--installer",
        choices=("pip", "uv"),
        default=os.environ.get("SPIP_INSTALLER", "pip"),
        help="the program that installs the verified wheelhouse: pip (default) or uv; both run "
        "offline over the same verified, hash-pinned wheels",
    )
    install.add_argument(
        "--require-hashes",
        action="store_true",
        help="every package must be pinned with --hash in the requirement files, and the "
        "index's file must match",
    )
    install.add_argument("--no-compile", action="store_true", help="do not byte-compile")
    install.add_argument("--no-input", action="store_true", help="accepted; spip never prompts")
    install.add_argument("--target", metavar="DIR", help="install into DIR (pip's --target)")
    install.add_argument("--user", action="store_true", help="install to the user site")
    for option in REFUSED_INSTALL_OPTIONS:
        install.add_argument(option, action=_Refuse, nargs="?", help=argparse.SUPPRESS)

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

    auth = sub.add_parser(
        "auth",
        help="store or check an index password in keyring",
        description="Credentials helpers. Passwords are read from a prompt (never echoed) or "
        "from standard input with --stdin, never from the command line.",
        allow_abbrev=False,
    )
    auth_sub = auth.add_subparsers(dest="auth_command", metavar="ACTION", parser_class=_Parser)
    auth_set = auth_sub.add_parser("set", help="store the password of INDEX in keyring")
    _common(auth_set)
    auth_set.add_argument("index", metavar="INDEX")
    auth_set.add_argument("--username", help="username (default: the map's username)")
    auth_set.add_argument("--stdin", action="store_true", help="read the password from stdin")
    auth_import = auth_sub.add_parser(
        "import-pypirc",
        help="move the passwords of a ~/.pypirc into keyring",
        description="Store each password of a .pypirc in keyring (service: the repository URL, "
        "as the section names it) and print the [indexes] entries to add to the map. pip never "
        "reads .pypirc; passwords in it are plain text on disk.",
    )
    auth_import.add_argument("--file", type=Path, default=Path("~/.pypirc"), metavar="PATH")
    auth_import.add_argument(
        "--remove",
        action="store_true",
        help="rewrite the file without its password lines once they are in keyring",
    )
    auth_check = auth_sub.add_parser("check", help="try the stored credential against INDEX")
    _common(auth_check)
    auth_check.add_argument("index", metavar="INDEX")

    lock = sub.add_parser(
        "lock",
        help="resolve through the source map and write a PEP 751 pylock.toml",
        description="Resolve requirements (arguments, -r files, or [project] dependencies of "
        "pyproject.toml) through the source map and write a standard PEP 751 lock with each "
        "package's index and hashes. Unchanged inputs rewrite nothing.",
        allow_abbrev=False,
    )
    _common(lock)
    lock.add_argument("requirements", nargs="*", metavar="REQ")
    lock.add_argument("-r", "--requirement", action="append", default=[], type=Path, metavar="FILE")
    lock.add_argument("-c", "--constraint", action="append", default=[], type=Path, metavar="FILE")
    lock.add_argument("-o", "--output", type=Path, default=Path("pylock.toml"), metavar="FILE")
    lock.add_argument("--python", metavar="PYTHON", help="interpreter to lock for")
    lock.add_argument(
        "--python-version",
        metavar="X.Y",
        help="lock for this Python version instead of an interpreter (with --platform)",
    )
    lock.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="TAG",
        help="wheel platform tag to lock for (repeat for a multi-platform lock), as in pip "
        "download",
    )
    lock.add_argument("--pre", action="store_true")

    sync = sub.add_parser(
        "sync",
        help="install exactly what a pylock.toml selects, from the map's indexes only",
        description="Install what a PEP 751 lock selects for the target environment, through "
        "the same air-gapped pip path. Refuses a lock whose package sources disagree with the "
        "source map, or whose hashes differ from what the indexes serve now.",
        allow_abbrev=False,
    )
    _common(sync)
    sync.add_argument("lockfile", nargs="?", type=Path, default=Path("pylock.toml"))
    sync.add_argument("--python", metavar="PYTHON")
    sync.add_argument(
        "--exact", action="store_true", help="also uninstall distributions the lock does not list"
    )
    sync.add_argument("--dry-run", action="store_true")

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
        help="also confirm every pinned version exists on its assigned index",
    )

    audit = sub.add_parser(
        "audit",
        help="where did every installed distribution come from?",
        description="For every distribution of an environment: the index the map assigns, and "
        "whether the installed files are that index's artifact (verified, installed-by-spip, "
        "mismatch, not-on-assigned-index, unverifiable); then which private names also exist "
        "on the default (public) index. Exit codes: 0 all verified, 1 findings, 2 could not "
        "audit.",
        allow_abbrev=False,
    )
    _common(audit)
    audit.add_argument("--python", metavar="PYTHON", help="interpreter or virtualenv to audit")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.add_argument(
        "--no-exposure",
        action="store_true",
        help="skip the exposure scan (it asks the default index about private "
        "names, without credentials)",
    )

    explain = sub.add_parser(
        "explain",
        help="say which index serves each name, and which rule decided it",
        allow_abbrev=False,
    )
    _common(explain)
    explain.add_argument("names", nargs="+", metavar="NAME")
    return parser


def _out(text: str = "") -> None:
    sys.stdout.write(_scrub(text) + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(_scrub(text) + "\n")
    sys.stderr.flush()


def _scrub(text: str) -> str:
    """Last line of defence: no secret we looked up, nor any URL password, is ever printed."""
    from pipx_secure.model.redact import redact_text

    text = redact_text(text)
    for secret in _secrets_seen:
        if secret:
            text = text.replace(secret, "****")
            text = text.replace(base64.b64encode(secret.encode()).decode(), "****")
    return text


def _load_map(path: Path | None) -> object:
    from pipx_secure.model.sourcemap import load_source_map

    source_map = load_source_map(path)
    for note in source_map.notes:
        _err(f"spip: note: {note}")
    return source_map


def cmd_explain(args: argparse.Namespace) -> int:
    """``spip explain NAME...``."""
    from pipx_secure.model.sourcemap import SourceMap

    source_map = _load_map(args.map)
    assert isinstance(source_map, SourceMap)
    status = 0
    for name in args.names:
        try:
            _out(source_map.index_for(name).explain())
        except SpipError as exc:
            _out(f"{canonicalize_name(name)} -> (none): {exc.render()}")
            status = exc.exit_code
    return status


def _binary_policy(args: argparse.Namespace) -> tuple[object, dict[object, object]]:
    from pipx_secure.resolve.finder import BinaryPolicy

    policy = BinaryPolicy.PREFER_BINARY if args.prefer_binary else BinaryPolicy.ANY
    per_name: dict[object, object] = {}
    for values, chosen in (
        (args.only_binary, BinaryPolicy.ONLY_BINARY),
        (args.no_binary, BinaryPolicy.NO_BINARY),
    ):
        for value in values:
            for item in value.split(","):
                item = item.strip()
                if item == ":all:":
                    policy = chosen
                    per_name.clear()
                elif item == ":none:":
                    policy = BinaryPolicy.ANY
                    per_name.clear()
                elif item:
                    per_name[canonicalize_name(item)] = chosen
    return policy, per_name


def _write_report(
    path: Path, installer: object, resolution: object, target: object, combined: object
) -> None:
    import json

    from pipx_secure.install.installer import Installer, Resolution
    from pipx_secure.install.target import TargetEnvironment
    from pipx_secure.model.report import installation_report
    from pipx_secure.model.reqfile import RequirementSet

    assert isinstance(installer, Installer) and isinstance(resolution, Resolution)
    assert isinstance(target, TargetEnvironment) and isinstance(combined, RequirementSet)
    extras: dict[str, list[str]] = {}
    for line in combined.requirements:
        if line.requirement is not None and line.requirement.extras:
            name = canonicalize_name(line.requirement.name)
            extras.setdefault(name, []).extend(sorted(line.requirement.extras))
    yanked = frozenset(
        c.link.filename for c in resolution.candidates.values() if c.link.yanked is not None
    )
    report = installation_report(
        resolution.plan,
        raw_metadata=installer.raw_metadata,
        environment=target.markers,
        yanked=yanked,
        requested_extras=extras,
    )
    text = json.dumps(report, indent=2, sort_keys=True)
    if str(path) == "-":
        _out(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")


def _status(args: argparse.Namespace, text: str) -> contextlib.AbstractContextManager[object]:
    """A spinner on a terminal; nothing in a pipe, with -q, or under NO_COLOR=dumb."""
    if args.quiet or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        return contextlib.nullcontext()
    from rich.console import Console

    console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")) or None)
    return console.status(text)


def _apply(installer: Any, resolution: Any, args: argparse.Namespace) -> Any:
    from pipx_secure.install.pipargs import Backend, PipOptions

    return installer.apply(
        resolution,
        pip_options=PipOptions(
            quiet=max(0, 1 - args.verbose),
            verbose=max(0, args.verbose - 1),
            force_reinstall=args.force_reinstall,
            target_dir=args.target,
            user=args.user,
            compile=not args.no_compile,
            backend=Backend(args.installer),
        ),
        reinstall=args.force_reinstall,
    )


def cmd_install(args: argparse.Namespace) -> int:
    """``spip install``."""
    from pipx_secure.install.target import choose_python, probe
    from pipx_secure.model.reqfile import merge, parse_cli_requirement, parse_requirement_files
    from pipx_secure.model.sourcemap import SourceMap
    from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs

    started = time.perf_counter()
    source_map = _load_map(args.map)
    assert isinstance(source_map, SourceMap)
    cwd = Path.cwd()
    files = parse_requirement_files(args.requirement, args.constraint)
    cli_lines = [parse_cli_requirement(r, cwd=cwd) for r in args.requirements]
    cli_lines += [parse_cli_requirement(e, cwd=cwd, editable=True) for e in args.editable]
    from pipx_secure.model.reqfile import RequirementSet

    combined = merge(files, RequirementSet(tuple(cli_lines), (), ()))
    if not combined.requirements:
        raise UsageError("no requirements given", hint="spip install NAME, or -r FILE")
    pre = args.pre or any(opt == "--pre" for opt, _v, _l in combined.options)
    policy, per_name = _binary_policy(args)
    target = probe(choose_python(args.python))
    reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
    local_lines = [
        line
        for line in combined.requirements
        if (line.path or line.editable or line.requirement is None) and not line.url
    ]
    direct_lines = [line for line in combined.requirements if line.url]
    constraints = constraints_map(combined.constraints, target.markers)
    from pipx_secure.resolve.settings import ResolveSettings

    settings = ResolveSettings(
        pre=pre,
        policy=policy,  # type: ignore[arg-type]
        policy_for=per_name,  # type: ignore[arg-type]
        upgrade=args.upgrade,
        upgrade_eager=args.upgrade and args.upgrade_strategy == "eager",
        no_deps=args.no_deps,
    )
    if not (
        args.upgrade
        or args.force_reinstall
        or constraints
        or args.target
        or args.user
        or local_lines
        or direct_lines
    ):
        from pipx_secure.install.provenance import read_provenance
        from pipx_secure.resolve.satisfied import already_satisfied

        if already_satisfied(reqs, target, source_map, read_provenance(target.prefix)):
            if not args.quiet:
                _out(
                    "Nothing to install: every requirement is already satisfied "
                    "(installed by spip from its assigned index)."
                )
            return 0
    # The HTTP stack is imported only now: a satisfied no-op never loads it.
    from pipx_secure.index.cache import ArtifactCache, default_cache_dir
    from pipx_secure.install.installer import Installer

    installer = Installer(source_map, target, cache=ArtifactCache(default_cache_dir()))
    try:
        reqs += [installer.add_local(line) for line in local_lines]
        reqs += [installer.add_direct(line) for line in direct_lines]
        with _status(args, f"Resolving {len(reqs)} requirement(s) through {source_map.origin}"):
            resolution = installer.resolve(reqs, constraints, settings)
        _secrets_seen.extend(installer.credentials.secrets())
        plan = resolution.plan
        _to_install, satisfied = plan.changes(target.installed, reinstall=args.force_reinstall)
        elapsed = time.perf_counter() - started
        if not args.quiet:
            indexes = sorted({p.index for p in plan.pins})
            _err(
                f"spip: resolved {len(plan.pins)} package(s) from "
                f"{', '.join(indexes) or 'no index'} in {elapsed:.2f}s"
            )
        require_hashes = args.require_hashes or any(
            opt == "--require-hashes" for opt, _v, _l in combined.options
        )
        installer.check_user_hashes(resolution, combined.requirements, require=require_hashes)
        if args.report:
            _write_report(args.report, installer, resolution, target, combined)
        if args.dry_run:
            for pin in plan.pins:
                state = "satisfied" if pin in satisfied else "would install"
                _out(f"{pin.name} {pin.version}  [{pin.index}]  {state}")
            return 0
        with _status(args, "Fetching, verifying and installing"):
            outcome = _apply(installer, resolution, args)
        _secrets_seen.extend(installer.credentials.secrets())
    finally:
        _secrets_seen.extend(installer.credentials.secrets())
        installer.close()
    if not args.quiet:
        if outcome.installed:
            _out(
                "Installed: "
                + ", ".join(f"{p.name} {p.version} [{p.index}]" for p in outcome.installed)
            )
        else:
            _out("Nothing to install: every requirement is already satisfied.")
    return 0


def _passthrough_args(arguments: list[str]) -> argparse.Namespace:
    """``COMMAND [--python PY] ARGS...``: every argument but ``--python`` goes to pip."""
    command, rest = arguments[0], arguments[1:]
    python = None
    pip_args: list[str] = []
    index = 0
    while index < len(rest):
        item = rest[index]
        if item == "--python":
            if index + 1 >= len(rest):
                raise UsageError("--python needs a value")
            python = rest[index + 1]
            index += 2
            continue
        if item.startswith("--python="):
            python = item.split("=", 1)[1]
        else:
            pip_args.append(item)
        index += 1
    return argparse.Namespace(command=command, python=python, pip_args=pip_args)


def cmd_passthrough(args: argparse.Namespace) -> int:
    """``spip uninstall|list|freeze|show``: the target's pip, unchanged, no network."""
    from pipx_secure.install.pipargs import pip_command, run, scrubbed_env
    from pipx_secure.install.target import choose_python

    python = choose_python(args.python)
    argv = [*pip_command(python), args.command, *args.pip_args]
    env = scrubbed_env(os.environ)
    return run(argv, env).returncode


def _index_named(args: argparse.Namespace) -> tuple[object, object]:
    from pipx_secure.model.sourcemap import IndexName, SourceMap

    source_map = _load_map(args.map)
    assert isinstance(source_map, SourceMap)
    name = IndexName(args.index)
    if name not in source_map.indexes:
        raise UsageError(
            f"no index named {args.index!r} in {source_map.origin}",
            hint="known indexes: " + ", ".join(sorted(source_map.indexes)),
        )
    return source_map, source_map.indexes[name]


def _import_pypirc(path: Path, *, remove: bool) -> int:
    import configparser

    import keyring

    from pipx_secure.errors import InputError
    from pipx_secure.model.redact import redact

    parser = configparser.RawConfigParser()
    try:
        if not parser.read(path, encoding="utf-8"):
            raise InputError("no such file", location=str(path), hint="pass --file PATH")
    except configparser.Error as exc:
        raise InputError(
            f"not a valid .pypirc: {exc}".splitlines()[0], location=str(path)
        ) from None
    moved = []
    for section in parser.sections():
        if section == "distutils" or not parser.has_option(section, "password"):
            continue
        username = parser.get(section, "username", fallback="__token__")
        password = parser.get(section, "password")
        repository = parser.get(section, "repository", fallback="")
        if not repository:
            _err(
                f"spip: note: [{section}] has no repository URL; skipped (it names the public "
                "upload service, which spip never needs)"
            )
            continue
        _secrets_seen.append(password)
        keyring.set_password(repository, username, password)
        moved.append((section, repository, username))
    for _section, repository, username in moved:
        _out(f"stored the password of {username} for {redact(repository)} in keyring")
    if moved:
        _out("")
        _out(
            "Add to spip.toml (use each index's Simple API URL; an upload URL may differ, "
            "then store the password for that URL with `spip auth set`):"
        )
        for section, repository, username in moved:
            _out(f'[indexes.{section}]\nurl = "{redact(repository)}"\nusername = "{username}"')
    if remove and moved:
        for section, _repository, _username in moved:
            parser.remove_option(section, "password")
        temp = path.with_name(path.name + ".spip-tmp")
        with temp.open("w", encoding="utf-8") as handle:
            parser.write(handle)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
        _out(f"removed {len(moved)} password(s) from {path}")
    if not moved:
        _out(f"no passwords with a repository URL in {path}")
    return 0


def cmd_auth(args: argparse.Namespace) -> int:
    """``spip auth set|check INDEX``."""
    from pipx_secure.model.sourcemap import Index, SourceMap

    if not args.auth_command:
        raise UsageError(
            "spip auth needs an action: set, check or import-pypirc", hint="spip auth --help"
        )
    if args.auth_command == "import-pypirc":
        return _import_pypirc(args.file.expanduser(), remove=args.remove)
    source_map, index = _index_named(args)
    assert isinstance(source_map, SourceMap) and isinstance(index, Index)
    if args.auth_command == "set":
        import getpass

        import keyring

        username = args.username or index.username
        if not username:
            raise UsageError(
                f"index {index.name} has no username",
                hint="pass --username, or set `username` for the index in the map",
            )
        if args.stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"Password for {username} at {index.redacted}: ")
        if not password:
            raise UsageError("empty password; nothing stored")
        _secrets_seen.append(password)
        keyring.set_password(index.url, username, password)
        _out(
            f"stored the password of {username} for index {index.name} in keyring "
            f"(service {index.redacted})"
        )
        return 0
    from pipx_secure.config.credentials import CredentialStore
    from pipx_secure.errors import AuthError
    from pipx_secure.index.cache import ArtifactCache, default_cache_dir
    from pipx_secure.index.client import IndexClient

    store = CredentialStore()
    credential = store.for_index(index)
    _secrets_seen.extend(store.secrets())
    client = IndexClient(source_map, store, ArtifactCache(default_cache_dir()), http_cache=False)
    try:
        client.check_access(index)
    except AuthError as exc:
        _out(f"{index.name}: refused ({exc.message})")
        return exc.exit_code
    finally:
        client.close()
    source = credential.source if credential else "no credential"
    _out(f"{index.name}: ok ({source})")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    """``spip lock``."""
    from pipx_secure.index.cache import ArtifactCache, default_cache_dir
    from pipx_secure.install.installer import Installer
    from pipx_secure.install.target import choose_python, probe
    from pipx_secure.model.pylock import dumps, plan_to_pylock
    from pipx_secure.model.reqfile import (
        RequirementSet,
        merge,
        parse_cli_requirement,
        parse_requirement_files,
    )
    from pipx_secure.model.sourcemap import SourceMap
    from pipx_secure.resolve.roots import constraints_map, requirements_to_reqs
    from pipx_secure.resolve.settings import ResolveSettings

    source_map = _load_map(args.map)
    assert isinstance(source_map, SourceMap)
    cwd = Path.cwd()
    files = parse_requirement_files(args.requirement, args.constraint)
    lines = [parse_cli_requirement(r, cwd=cwd) for r in args.requirements]
    lines += _pyproject_dependencies(cwd) if not lines and not files.requirements else []
    combined = merge(files, RequirementSet(tuple(lines), (), ()))
    if not combined.requirements:
        raise UsageError(
            "nothing to lock",
            hint="give requirements, -r FILE, or run where "
            "pyproject.toml lists [project] dependencies",
        )
    from packaging.markers import Marker

    from pipx_secure.install.target import TargetEnvironment, environment_for, environment_marker
    from pipx_secure.model.pylock import plans_to_pylock

    described = bool(args.platform or args.python_version)
    if described and args.python:
        raise UsageError("--python and --python-version/--platform exclude each other")
    environments: list[tuple[Marker | None, TargetEnvironment]]
    if described:
        import platform as platform_module

        from packaging.tags import platform_tags

        version = args.python_version or platform_module.python_version()
        platforms = args.platform or [next(iter(platform_tags()))]
        environments = []
        for tag in platforms:
            env = environment_for(version, tag)
            environments.append((Marker(environment_marker(env)), env))
    else:
        environments = [(None, probe(choose_python(args.python)))]
    plans = []
    for marker, target in environments:
        if any(line.url or line.path or line.editable for line in combined.requirements):
            raise UsageError(
                "spip lock records packages from indexes only; local paths, editables and "
                "direct URLs cannot be locked",
                hint="publish them to an index routed in the map, or install them separately",
            )
        reqs = requirements_to_reqs(combined.requirements, target.markers, source_map)
        installer = Installer(source_map, target, cache=ArtifactCache(default_cache_dir()))
        try:
            resolution = installer.resolve(
                reqs,
                constraints_map(combined.constraints, target.markers),
                ResolveSettings(pre=args.pre),
                installed_preferred=False,
            )
        finally:
            _secrets_seen.extend(installer.credentials.secrets())
            installer.close()
        plans.append((marker, resolution.plan))
    text = dumps(plans_to_pylock(plans) if described else plan_to_pylock(plans[0][1]))
    count = len({pin.name for _m, plan in plans for pin in plan.pins})
    output: Path = args.output
    if output.is_file() and output.read_text(encoding="utf-8") == text:
        _err(f"spip: {output} is up to date ({count} packages)")
        return 0
    temp = output.with_name(f".{output.name}.spip-tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, output)
    _err(f"spip: wrote {output} ({count} packages)")
    return 0


def _pyproject_dependencies(cwd: Path) -> list[RequirementLine]:
    from pipx_secure.model.reqfile import parse_cli_requirement

    pyproject = cwd / "pyproject.toml"
    if not pyproject.is_file():
        return []
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list):
        raise UsageError(f"{pyproject}: [project] dependencies must be a list")
    return [parse_cli_requirement(str(d), cwd=cwd) for d in deps]


def cmd_sync(args: argparse.Namespace) -> int:
    """``spip sync``."""
    from pipx_secure.index.cache import ArtifactCache, default_cache_dir
    from pipx_secure.install.installer import Installer, resolution_from_lock
    from pipx_secure.install.pipargs import PipOptions, pip_command, run, scrubbed_env
    from pipx_secure.install.target import choose_python, probe
    from pipx_secure.model.pylock import LockPolicyError, check_lock_against_map, read_pylock
    from pipx_secure.model.sourcemap import SourceMap

    source_map = _load_map(args.map)
    assert isinstance(source_map, SourceMap)
    lock = read_pylock(args.lockfile)
    findings = check_lock_against_map(lock, source_map)
    if findings:
        raise LockPolicyError(
            f"{args.lockfile}: " + "; ".join(f.message for f in findings),
            hint="the lock's sources break the source map; nothing was installed",
        )
    target = probe(choose_python(args.python))
    installer = Installer(source_map, target, cache=ArtifactCache(default_cache_dir()))
    try:
        resolution = resolution_from_lock(installer, lock)
        extraneous = (
            sorted(
                name
                for name in target.installed
                if name not in resolution.candidates and name not in ("pip",)
            )
            if args.exact
            else []
        )
        if args.dry_run:
            to_install, _sat = resolution.plan.changes(target.installed)
            for pin in to_install:
                _out(f"would install {pin.name} {pin.version} [{pin.index}]")
            for name in extraneous:
                _out(f"would uninstall {name}")
            return 0
        outcome = installer.apply(resolution, pip_options=PipOptions(quiet=1))
    finally:
        _secrets_seen.extend(installer.credentials.secrets())
        installer.close()
    if extraneous:
        argv = [*pip_command(target.python), "uninstall", "-y", "-q", *extraneous]
        if run(argv, scrubbed_env(os.environ)).returncode != 0:
            from pipx_secure.errors import InstallError

            raise InstallError("pip failed uninstalling: " + ", ".join(extraneous))
    if not args.quiet:
        done = ", ".join(f"{p.name} {p.version} [{p.index}]" for p in outcome.installed)
        _out(f"Installed: {done}" if done else "Nothing to install: the environment matches.")
        if extraneous:
            _out("Uninstalled: " + ", ".join(extraneous))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """``spip check``."""
    import json

    from pipx_secure.commands.check import run_check

    report = run_check(args.map, list(args.files), online=args.online)
    if args.json:
        _out(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        for finding in report.findings:
            _out(f"{finding.location}: {finding.severity}: {finding.kind}: {finding.message}")
        if not args.quiet:
            _err(
                f"spip check: {len(report.findings)} finding(s) in "
                f"{len(report.files)} file(s); map {report.map_origin}"
            )
    return report.exit_code


def cmd_audit(args: argparse.Namespace) -> int:
    """``spip audit``."""
    import json

    from pipx_secure.audit.engine import audit_environment
    from pipx_secure.index.cache import ArtifactCache, default_cache_dir
    from pipx_secure.install.target import choose_python, probe
    from pipx_secure.model.sourcemap import SourceMap

    try:
        source_map = _load_map(args.map)
        assert isinstance(source_map, SourceMap)
        target = probe(choose_python(args.python))
        with _status(args, f"Auditing {len(target.installed)} distributions"):
            report = audit_environment(
                source_map,
                target,
                ArtifactCache(default_cache_dir()),
                exposure=not args.no_exposure,
            )
    except SpipError as exc:
        _err(f"spip: error: could not audit: {exc.render()}")
        return 2
    if args.json:
        _out(json.dumps(report.to_json(), indent=2, sort_keys=True))
        return report.exit_code
    _render_audit(report)
    return report.exit_code


def _console(stderr: bool = False) -> object:
    from rich.console import Console

    return Console(
        stderr=stderr,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        highlight=False,
        soft_wrap=False,
    )


def _render_audit(report: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from pipx_secure.audit.engine import AuditReport, Verdict

    assert isinstance(report, AuditReport)
    console = _console()
    assert isinstance(console, Console)
    styles = {
        Verdict.VERIFIED: "green",
        Verdict.INSTALLED_BY_SPIP: "green",
        Verdict.MISMATCH: "bold red",
        Verdict.NOT_ON_ASSIGNED_INDEX: "bold red",
        Verdict.UNVERIFIABLE: "yellow",
    }
    table = Table(title=f"spip audit of {report.python}", show_lines=False)
    for column in ("package", "version", "index", "verdict", "why"):
        table.add_column(column, overflow="fold")
    for item in report.packages:
        why = item.reason + (f" [{', '.join(item.files[:5])}]" if item.files else "")
        table.add_row(
            item.name,
            item.version,
            item.index or "-",
            f"[{styles[item.verdict]}]{item.verdict.value}[/]",
            _scrub(why),
        )
    console.print(table)
    for exposure in report.exposures:
        level = "[bold red]EXPOSED[/]" if exposure.higher else "[yellow]exposed[/]"
        console.print(
            f"{level} {exposure.name}: routed to {exposure.index} "
            f"(highest {exposure.private_version or 'none'}), and the default index has "
            f"{exposure.public_version}"
        )
    for forwarding in report.forwarding:
        console.print(f"[bold red]FORWARDING[/] {_scrub(forwarding.message)}")
    bad = sum(1 for p in report.packages if not p.verdict.ok)
    console.print(
        f"{len(report.packages)} distributions: {len(report.packages) - bad} verified, "
        f"{bad} findings; {len(report.exposures)} exposed names"
    )


COMMANDS = {
    "audit": cmd_audit,
    "lock": cmd_lock,
    "sync": cmd_sync,
    "check": cmd_check,
    "install": cmd_install,
    "explain": cmd_explain,
    "auth": cmd_auth,
    "uninstall": cmd_passthrough,
    "list": cmd_passthrough,
    "freeze": cmd_passthrough,
    "show": cmd_passthrough,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spip`` console script."""
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] in PASSTHROUGH and not {"-h", "--help"} & set(arguments):
            return cmd_passthrough(_passthrough_args(arguments))
        args = parser.parse_args(arguments)
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except SpipError as exc:
        _err(f"spip: error: {exc.render()}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("spip: interrupted; nothing was installed unless pip had already started")
        return 130
    except Exception as exc:  # an unexpected bug: one line, no traceback unless asked
        if os.environ.get("SPIP_DEBUG"):
            raise
        _err(f"spip: internal error: {type(exc).__name__}: {exc} (set SPIP_DEBUG=1 for details)")
        return 70
