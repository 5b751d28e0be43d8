"""Flags become frozen settings here, at the CLI boundary; nothing deeper sees argparse.

Each function imports its own command's settings: a run loads only the command it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import UsageError

if TYPE_CHECKING:
    from pipx_secure.commands.audit import AuditSettings
    from pipx_secure.commands.check import CheckSettings
    from pipx_secure.commands.explain import ExplainSettings
    from pipx_secure.commands.init import InitSettings
    from pipx_secure.commands.install import InstallSettings
    from pipx_secure.commands.lock import LockSettings
    from pipx_secure.commands.sync import SyncSettings
    from pipx_secure.resolve.finder import BinaryPolicy


def binary_policy(
    only_binary: Sequence[str], no_binary: Sequence[str], prefer_binary: bool
) -> tuple[BinaryPolicy, dict[NormalizedName, BinaryPolicy]]:
    """pip's ``--only-binary``/``--no-binary`` values (``:all:``, ``:none:``, names)."""
    from pipx_secure.resolve.finder import BinaryPolicy

    policy = BinaryPolicy.PREFER_BINARY if prefer_binary else BinaryPolicy.ANY
    per_name: dict[NormalizedName, BinaryPolicy] = {}
    for values, chosen in (
        (only_binary, BinaryPolicy.ONLY_BINARY),
        (no_binary, BinaryPolicy.NO_BINARY),
    ):
        for value in values:
            for item in (part.strip() for part in value.split(",")):
                if item == ":all:":
                    policy = chosen
                    per_name.clear()
                elif item == ":none:":
                    policy = BinaryPolicy.ANY
                    per_name.clear()
                elif item:
                    per_name[canonicalize_name(item)] = chosen
    return policy, per_name


def install_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> InstallSettings:
    """``spip install``'s namespace as settings."""
    from pipx_secure.commands.install import InstallSettings
    from pipx_secure.install.pipargs import Backend, PipOptions
    from pipx_secure.resolve.settings import ResolveSettings

    policy, per_name = binary_policy(args.only_binary, args.no_binary, args.prefer_binary)
    installer = args.installer or environ.get("SPIP_INSTALLER", "pip")
    return InstallSettings(
        requirements=tuple(args.requirements),
        requirement_files=tuple(args.requirement),
        constraint_files=tuple(args.constraint),
        editables=tuple(args.editable),
        map_path=args.map,
        python=args.python,
        dry_run=args.dry_run,
        report=args.report,
        resolve=ResolveSettings(
            pre=args.pre,
            policy=policy,
            policy_for=per_name,
            upgrade=args.upgrade,
            upgrade_eager=args.upgrade and args.upgrade_strategy == "eager",
            no_deps=args.no_deps,
        ),
        pip=PipOptions(
            quiet=max(0, 1 - args.verbose),
            verbose=max(0, args.verbose - 1),
            force_reinstall=args.force_reinstall,
            target_dir=args.target,
            user=args.user,
            compile=not args.no_compile,
            backend=Backend(installer),
        ),
        require_hashes=args.require_hashes,
        quiet=args.quiet,
    )


def lock_settings(args: argparse.Namespace) -> LockSettings:
    """``spip lock``'s namespace as settings."""
    from pipx_secure.commands.lock import LockSettings

    return LockSettings(
        requirements=tuple(args.requirements),
        requirement_files=tuple(args.requirement),
        constraint_files=tuple(args.constraint),
        output=args.output,
        map_path=args.map,
        python=args.python,
        python_version=args.python_version,
        platforms=tuple(args.platform),
        pre=args.pre,
        upgrade=args.upgrade,
        upgrade_packages=tuple(args.upgrade_package),
    )


def sync_settings(args: argparse.Namespace) -> SyncSettings:
    """``spip sync``'s namespace as settings."""
    from pipx_secure.commands.sync import SyncSettings
    from pipx_secure.resolve.fromlock import Choice

    return SyncSettings(
        lockfile=args.lockfile,
        map_path=args.map,
        python=args.python,
        exact=args.exact,
        dry_run=args.dry_run,
        offline=args.offline,
        wheelhouse=args.wheelhouse,
        choice=Choice(
            extras=tuple(args.extra),
            groups=tuple(args.group),
            all_extras=args.all_extras,
            all_groups=args.all_groups,
            default_groups=not args.no_default_groups,
        ),
    )


def check_settings(args: argparse.Namespace) -> CheckSettings:
    """``spip check``'s namespace as settings."""
    from pipx_secure.commands.check import CheckSettings

    return CheckSettings(files=tuple(args.files), map_path=args.map, online=args.online)


def audit_format(args: argparse.Namespace) -> str:
    """``--format``, with ``--json`` as its short form (they may not disagree)."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} disagree", hint="pass one of them")
    return "json" if args.json else str(args.format or "table")


def audit_settings(args: argparse.Namespace) -> AuditSettings:
    """``spip audit``'s namespace as settings (a malformed ``--accept``: exit 2)."""
    from pipx_secure.commands.audit import AuditSettings
    from pipx_secure.model.accept import parse_accept

    accept = []
    for raw in args.accept:
        try:
            accept.append(parse_accept(raw, "--accept"))
        except ValueError as exc:
            raise UsageError(f"--accept: {exc}", hint="use NAME or NAME==VERSION") from None
    return AuditSettings(
        map_path=args.map,
        python=args.python,
        exposure=not args.no_exposure,
        accept=tuple(accept),
        full_download=args.full_download,
    )


def explain_settings(args: argparse.Namespace) -> ExplainSettings:
    """``spip explain``'s namespace as settings."""
    from pipx_secure.commands.explain import ExplainSettings

    return ExplainSettings(names=tuple(args.names), map_path=args.map)


def init_settings(args: argparse.Namespace) -> InitSettings:
    """``spip init``'s namespace as settings."""
    from pipx_secure.commands.init import InitSettings

    return InitSettings(
        output=args.output,
        pyproject=args.pyproject,
        dry_run=args.dry_run,
        rewrite=args.rewrite,
        yes=args.yes,
        force=args.force,
        check_exposure=args.check_exposure,
    )
