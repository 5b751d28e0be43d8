"""Flags become frozen settings here, at the CLI boundary; nothing deeper sees argparse.

Each function imports its own command's settings: a run loads only the command it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import UsageError

if TYPE_CHECKING:
    from pipx_secure.commands.audit import AuditSettings
    from pipx_secure.commands.check import CheckSettings
    from pipx_secure.commands.context import NetworkOptions
    from pipx_secure.commands.explain import ExplainSettings
    from pipx_secure.commands.fetch import FetchSettings
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


def _prereleases(
    all_releases: Sequence[str], only_final: Sequence[str]
) -> tuple[bool, dict[NormalizedName, bool]]:
    """``--all-releases`` / ``--only-final`` (names, ``:all:``, ``:none:``): (pre, per name)."""
    everything = False
    per_name: dict[NormalizedName, bool] = {}
    for values, allowed in ((all_releases, True), (only_final, False)):
        for item in (v.strip() for value in values for v in value.split(",")):
            if item == ":all:":
                everything = allowed
                per_name.clear()
            elif item == ":none:":
                per_name.clear()
            elif item:
                per_name[canonicalize_name(item)] = allowed
    return everything, per_name


def _moment(value: str | None) -> datetime | None:
    from pipx_secure.model.cooldown import cutoff, parse_moment

    if not value:
        return None
    try:
        moment = parse_moment(value)
    except ValueError:
        raise UsageError(
            f"--uploaded-prior-to {value!r} is neither a timestamp nor a duration",
            hint='e.g. 2026-11-01T00:00:00Z, or "7 days"',
        ) from None
    return cutoff(moment, datetime.now(timezone.utc))


def _pip_extra(args: argparse.Namespace) -> tuple[str, ...]:
    """Options that only shape pip's own behaviour, passed to it as given."""
    extra: list[str] = []
    for flag in ("no_warn_script_location", "no_warn_conflicts", "break_system_packages"):
        if getattr(args, flag):
            extra.append("--" + flag.replace("_", "-"))
    if args.root_user_action:
        extra += ["--root-user-action", args.root_user_action]
    if args.log:
        extra += ["--log", str(Path(args.log).resolve())]
    return tuple(extra)


def _config_settings(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--config-settings {value!r}: expected KEY=VALUE")
        pairs.append((key, setting))
    return tuple(pairs)


def install_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> InstallSettings:
    """``spip install``'s namespace as settings."""
    from pipx_secure.commands.install import InstallSettings
    from pipx_secure.commands.install_target import Described
    from pipx_secure.install.pipargs import Backend, PipOptions
    from pipx_secure.resolve.settings import ResolveSettings

    policy, per_name = binary_policy(args.only_binary, args.no_binary, args.prefer_binary)
    everything, prereleases = _prereleases(args.all_releases, args.only_final)
    installer = args.installer or environ.get("SPIP_INSTALLER", "pip")
    described = Described(
        tuple(args.platform), args.python_version, args.implementation, tuple(args.abi)
    )
    return InstallSettings(
        requirements=tuple(args.requirements),
        requirement_files=tuple(args.requirement),
        constraint_files=tuple(args.constraint),
        editables=tuple(args.editable),
        map_path=args.map,
        allow_overwrite=tuple(args.allow_overwrite),
        python=args.python,
        dry_run=args.dry_run,
        report=args.report,
        resolve=ResolveSettings(
            pre=args.pre or everything,
            policy=policy,
            policy_for=per_name,
            upgrade=args.upgrade,
            upgrade_eager=args.upgrade and args.upgrade_strategy == "eager",
            no_deps=args.no_deps,
            ignore_requires_python=args.ignore_requires_python,
            prereleases_for=prereleases,
            uploaded_prior_to=_moment(args.uploaded_prior_to),
            now=datetime.now(timezone.utc),
        ),
        pip=PipOptions(
            quiet=max(0, 1 - args.verbose),
            verbose=max(0, args.verbose - 1),
            force_reinstall=args.force_reinstall,
            target_dir=args.target,
            user=bool(args.user),
            compile=args.compile,
            backend=Backend(installer),
            prefix=args.prefix,
            root=args.root,
            ignore_installed=args.ignore_installed,
            extra=_pip_extra(args) + described.pip_flags(),
        ),
        require_hashes=args.require_hashes and not args.no_require_hashes,
        quiet=args.quiet,
        build_constraint_files=tuple(args.build_constraint),
        scripts=tuple(args.requirements_from_script),
        groups=tuple(args.group),
        only_deps=args.only_deps,
        src=Path(args.src).resolve() if args.src else None,
        config_settings=_config_settings(args.config_settings),
        require_virtualenv=args.require_virtualenv,
        described=described,
    )


def network_options(args: argparse.Namespace) -> NetworkOptions:
    """pip's network, cache and keyring options (on commands that take them)."""
    from pipx_secure.commands.context import NetworkOptions

    keyring = getattr(args, "keyring_provider", None)
    cert, client = getattr(args, "cert", None), getattr(args, "client_cert", None)
    cache_dir = getattr(args, "cache_dir", None)
    return NetworkOptions(
        timeout=getattr(args, "timeout", None),
        retries=getattr(args, "retries", None),
        proxy=getattr(args, "proxy", None),
        no_proxy_env=getattr(args, "no_proxy_env", False),
        cert=Path(cert).resolve() if cert else None,
        client_cert=Path(client).resolve() if client else None,
        keyring=keyring != "disabled",
        cache_dir=Path(cache_dir).resolve() if cache_dir else None,
        no_cache=getattr(args, "no_cache_dir", False),
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
        allow_overwrite=tuple(args.allow_overwrite),
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


def fetch_settings(args: argparse.Namespace) -> FetchSettings:
    """``spip download`` / ``spip wheel``'s namespace as settings."""
    from pipx_secure.commands.fetch import FetchSettings
    from pipx_secure.commands.install_target import Described
    from pipx_secure.resolve.settings import ResolveSettings

    policy, per_name = binary_policy(args.only_binary, args.no_binary, args.prefer_binary)
    return FetchSettings(
        dest=args.dest,
        wheels=args.command == "wheel",
        requirements=tuple(args.requirements),
        requirement_files=tuple(args.requirement),
        constraint_files=tuple(args.constraint),
        map_path=args.map,
        python=args.python,
        resolve=ResolveSettings(
            pre=args.pre, policy=policy, policy_for=per_name, no_deps=args.no_deps
        ),
        described=Described(
            tuple(args.platform), args.python_version, args.implementation, tuple(args.abi)
        ),
    )
