"""The command line: parse flags into settings, run a command, render its result.

Errors from the core are rendered as one line (``spip: error: ...``) and mapped to the exit
codes documented in ``errors.EXIT_CODES``; nothing below this module prints.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pipx_secure.cli import render
from pipx_secure.cli import settings as flags
from pipx_secure.cli.output import Output
from pipx_secure.cli.parser import build_parser
from pipx_secure.commands.context import Services
from pipx_secure.commands.passthrough import PASSTHROUGH, PassthroughSettings
from pipx_secure.errors import SpipError, UsageError


def _services(args: argparse.Namespace, output: Output) -> Services:
    verbose = getattr(args, "verbose", 0)
    services = Services.create(
        reporter=output,
        echo=output.child_line if verbose else None,
        network=flags.network_options(args),
    )
    output.secrets = services.credentials.secrets
    output.cleanup.append(services.close)
    return services


def cmd_install(args: argparse.Namespace, output: Output) -> int:
    """``spip install``."""
    from pipx_secure.commands import install

    services = _services(args, output)
    settings = flags.install_settings(args, services.environ)
    result = install.run(settings, services)
    render.install(result, output, args.quiet)
    argv = getattr(args, "spip_argv", None)
    if argv is not None and not result.dry_run:
        from pipx_secure.commands import noop

        if noop.eligible(argv) and (result.fast_path or install.nothing_to_do(settings, services)):
            noop.remember(argv, settings, services)
    return 0


def cmd_lock(args: argparse.Namespace, output: Output) -> int:
    """``spip lock``."""
    from pipx_secure.commands import lock

    render.lock(lock.run(flags.lock_settings(args), _services(args, output)), output)
    return 0


def cmd_sync(args: argparse.Namespace, output: Output) -> int:
    """``spip sync``."""
    from pipx_secure.commands import sync

    render.sync(sync.run(flags.sync_settings(args), _services(args, output)), output, args.quiet)
    return 0


def cmd_check(args: argparse.Namespace, output: Output) -> int:
    """``spip check``."""
    from pipx_secure.commands import check

    report = check.run(flags.check_settings(args), _services(args, output))
    render.check(report, output, args.json, args.quiet)
    return report.exit_code


def cmd_audit(args: argparse.Namespace, output: Output) -> int:
    """``spip audit`` (any error that stops the audit: exit 2)."""
    from pipx_secure.commands import audit

    settings, fmt = flags.audit_settings(args), flags.audit_format(args)
    try:
        report = audit.run(settings, _services(args, output))
    except SpipError as exc:
        output.err(f"spip: error: could not audit: {exc.render()}")
        return 2
    render.audit(report, output, fmt)
    return report.exit_code


def cmd_explain(args: argparse.Namespace, output: Output) -> int:
    """``spip explain NAME...``."""
    from pipx_secure.commands import explain

    result = explain.run(flags.explain_settings(args), _services(args, output))
    render.explain(result, output)
    return result.exit_code


def cmd_auth(args: argparse.Namespace, output: Output) -> int:
    """``spip auth set|check|import-pypirc``."""
    from pipx_secure.commands import auth

    if not args.auth_command:
        raise UsageError(
            "spip auth needs an action: set, check or import-pypirc", hint="spip auth --help"
        )
    services = _services(args, output)
    settings = auth.AuthSettings(
        action=args.auth_command,
        index=getattr(args, "index", ""),
        map_path=getattr(args, "map", None),
        username=getattr(args, "username", None),
        pypirc=getattr(args, "file", auth.AuthSettings.pypirc),
        remove=getattr(args, "remove", False),
    )
    if args.auth_command == "import-pypirc":
        result = auth.import_pypirc(settings, services)
    elif args.auth_command == "check":
        result = auth.check(settings, services)
    else:
        index, username = auth.username_for(settings, services)
        if args.stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"Password for {username} at {index.redacted}: ")
        output.extra_secrets.append(password)
        result = auth.store(settings, services, password)
    output.extra_secrets.extend(result.secrets)
    render.auth(result, output)
    return result.exit_code


def _confirm(files: Sequence[str]) -> bool:
    """Ask on a terminal before rewriting files; never in a pipe."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write("spip: take the passwords out of:\n")
    for name in files:
        sys.stderr.write(f"  {name}\n")
    sys.stderr.write("(backups are kept, readable by you only) [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_init(args: argparse.Namespace, output: Output) -> int:
    """``spip init``."""
    from pipx_secure.commands import init

    result = init.run(flags.init_settings(args), _services(args, output), _confirm)
    output.extra_secrets.extend(result.secrets)
    render.init(result, output)
    return result.check.exit_code if result.check is not None else 0


def cmd_passthrough(args: argparse.Namespace, output: Output) -> int:
    """``spip uninstall|list|freeze|show``: the target's pip, unchanged, no network."""
    from pipx_secure.commands import passthrough

    settings = PassthroughSettings(args.command, tuple(args.pip_args), args.python)
    result = passthrough.run(settings, _services(args, output))
    render.passthrough(result, output)
    return result.returncode


def cmd_fetch(args: argparse.Namespace, output: Output) -> int:
    """``spip download`` / ``spip wheel``."""
    from pipx_secure.commands import fetch

    result = fetch.run(flags.fetch_settings(args), _services(args, output))
    render.fetch(result, output, args.quiet)
    return 0


_OUTDATED = {"-o", "--outdated", "-u", "--uptodate"}


def cmd_outdated(arguments: list[str], output: Output) -> int:
    """``spip list -o/-u``: asked of each name's assigned index only."""
    from pipx_secure.commands import outdated

    parser = argparse.ArgumentParser(prog="spip list", add_help=False, allow_abbrev=False)
    parser.add_argument("-o", "--outdated", action="store_true")
    parser.add_argument("-u", "--uptodate", action="store_true")
    parser.add_argument("--pre", action="store_true")
    parser.add_argument("--python")
    parser.add_argument("--map", type=Path)
    parser.add_argument("--format", default="columns", choices=("columns", "json"))
    args, unknown = parser.parse_known_args(arguments[1:])
    if unknown:
        raise UsageError(
            f"spip list -o/-u does not take {' '.join(unknown)}",
            hint="it takes --pre, --python, --map and --format columns|json",
        )
    settings = outdated.OutdatedSettings(
        uptodate=args.uptodate,
        pre=args.pre,
        python=args.python,
        map_path=args.map,
        output_format=args.format,
    )
    result = outdated.run(settings, _services(argparse.Namespace(), output))
    render.outdated(result, output, args.format)
    return 0


def passthrough_args(arguments: list[str]) -> argparse.Namespace:
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
    return argparse.Namespace(command=command, python=python, pip_args=pip_args, verbose=0)


INTERRUPTED = 130  # 128 + SIGINT, as shells report it

COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "audit": cmd_audit,
    "lock": cmd_lock,
    "sync": cmd_sync,
    "check": cmd_check,
    "install": cmd_install,
    "explain": cmd_explain,
    "auth": cmd_auth,
    "init": cmd_init,
    "download": cmd_fetch,
    "wheel": cmd_fetch,
    **{name: cmd_passthrough for name in PASSTHROUGH},
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spip`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    output = Output()
    try:
        return _dispatch(arguments, output)
    except SpipError as exc:
        output.err(f"spip: error: {exc.render()}")
        return exc.exit_code
    except KeyboardInterrupt:
        output.stop_display()
        output.err("spip: interrupted; nothing was installed unless pip had already started")
        return INTERRUPTED
    except Exception as exc:  # an unexpected bug: one line, no traceback unless asked
        if os.environ.get("SPIP_DEBUG") or "--debug" in arguments:
            raise
        output.err(
            f"spip: internal error: {type(exc).__name__}: {exc} (set SPIP_DEBUG=1 for details)"
        )
        return 70
    finally:
        output.stop_display()
        for cleanup in output.cleanup:
            cleanup()


def _dispatch(arguments: list[str], output: Output) -> int:
    if arguments and arguments[0] == "list" and _OUTDATED & set(arguments):
        return cmd_outdated(arguments, output)
    if arguments and arguments[0] in PASSTHROUGH and not {"-h", "--help"} & set(arguments):
        return cmd_passthrough(passthrough_args(arguments), output)
    parser = build_parser()
    args = parser.parse_args(arguments)
    args.spip_argv = arguments[1:] if arguments[:1] == ["install"] else None  # the no-op memo
    if not args.command:
        parser.print_help()
        return 2
    output.quiet = getattr(args, "quiet", 0)
    output.verbose = getattr(args, "verbose", 0)
    if getattr(args, "no_color", False) or getattr(args, "progress_bar", "on") == "off":
        output.plain = True
    try:
        return COMMANDS[args.command](args, output)
    except BrokenPipeError:
        # The reader went away (``spip ... | head``): end quietly, as a shell tool does.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
