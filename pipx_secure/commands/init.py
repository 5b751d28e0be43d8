"""``spip init``: from pip's scattered settings to one source map, passwords moved to keyring.

1. Find every index the user has configured (:mod:`pipx_secure.config.discovery`).
2. Ask each *private* index, with its own credential, whether it serves each name the project
   requires; the public index is asked nothing unless ``--check-exposure`` says so.
3. Propose the map (:mod:`pipx_secure.config.proposal`), write it, store every password found
   in keyring under the key the map's index looks up, and with ``--rewrite`` take the passwords
   out of the files that held them (backups kept, mode 0600).
4. Check the map against the project's requirement files, and say what changes from pip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName

from pipx_secure.commands.check import CheckReport, run_check
from pipx_secure.commands.context import Services
from pipx_secure.config.credentials import Credential, CredentialStore
from pipx_secure.config.discovery import Discovery, discover
from pipx_secure.config.pipconfig import builtin_index_url
from pipx_secure.config.proposal import (
    Proposal,
    ProposedIndex,
    choose_default,
    group_indexes,
    name_default,
    render,
    rules_for,
)
from pipx_secure.config.rewrite import Rewritten, comment_index_options, rewrite
from pipx_secure.errors import SpipError, UsageError
from pipx_secure.fs import atomic_write
from pipx_secure.model.sourcemap import Index, IndexName

Confirm = Callable[[Sequence[str]], bool]
#: More projects than this on a private index's root page: a mirror, not the company's own.
MAX_LISTED = 5000


@dataclass(frozen=True)
class InitSettings:
    """``spip init``'s flags."""

    output: Path | None = None
    pyproject: bool = False
    dry_run: bool = False
    rewrite: bool = False
    yes: bool = False
    force: bool = False
    check_exposure: bool = False


@dataclass(frozen=True)
class InitResult:
    """What ``spip init`` found, proposed and did."""

    map_text: str
    written: Path | None = None
    stored: tuple[str, ...] = ()
    rewritten: tuple[Rewritten, ...] = ()
    check: CheckReport | None = None
    changes: tuple[str, ...] = ()
    exposure: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)


def _model(index: ProposedIndex) -> Index:
    return Index(IndexName(index.name), index.url, username=index.username)


def _proposal(discovery: Discovery) -> tuple[list[ProposedIndex], ProposedIndex]:
    builtin = builtin_index_url()
    indexes = group_indexes(discovery.found, discovery.netrc, builtin)
    if not any(i.primary for i in indexes) and not any(i.public for i in indexes):
        # pip without an index-url uses its built-in index besides every extra-index-url.
        indexes.insert(0, ProposedIndex("public", builtin.rstrip("/") + "/", (), public=True))
    default = choose_default(indexes)
    if default is None:  # pragma: no cover - the built-in index is always there
        raise UsageError("no index found")
    return name_default(indexes, default)


def _served(
    private: Sequence[ProposedIndex], names: Sequence[str], services: Services
) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Which names each private index serves (asked with its own credential only)."""
    from pipx_secure.index.pages import IndexPages
    from pipx_secure.index.transport import HttpTransport

    given = {
        p.url: Credential(p.username or "__token__", p.password, "spip init", "found", "found")
        for p in private
        if p.password
    }
    store = CredentialStore(services.environ, given=given)
    transport = HttpTransport(store, services.cache, http_cache=False)
    served: dict[str, frozenset[str]] = {}
    notes: list[str] = []
    wanted = [NormalizedName(n) for n in names]
    try:
        for index in private:
            pages = IndexPages(_model(index), transport)
            pages.prefetch(wanted)
            try:
                listed = transport.project_list(_model(index))
                asked = frozenset(n for n in wanted if pages.page(n).files)
            except SpipError as exc:
                notes.append(f"could not ask index {index.name}: {exc.render()}")
                continue
            if len(listed) > MAX_LISTED:
                notes.append(
                    f"index {index.name} lists {len(listed)} projects: it looks like a mirror "
                    "of a public index; only the project's requirements were routed to it"
                )
                listed = ()
            served[index.name] = asked | frozenset(listed)
    finally:
        transport.close()
    return served, notes


def _exposure(
    served: dict[str, frozenset[str]], default: ProposedIndex, services: Services
) -> tuple[str, ...]:
    """``--check-exposure``: ask the default index, anonymously, about the private names."""
    from pipx_secure.index.pages import IndexPages

    routed = sorted({n for names in served.values() for n in names})
    transport = services.anonymous_transport()
    lines = [
        f"asked index {default.name} ({default.url}), without credentials, about "
        f"{len(routed)} routed name(s): this reveals them to that index"
    ]
    try:
        pages = IndexPages(_model(default), transport)
        for name in routed:
            files = pages.page(NormalizedName(name)).files
            if files:
                lines.append(f"{name}: also on {default.name} ({len(files)} files): exposed")
    except SpipError as exc:
        lines.append(f"could not ask {default.name}: {exc.render()}")
    finally:
        transport.close()
    return tuple(lines)


def _changes(proposal: Proposal) -> tuple[str, ...]:
    names = ", ".join(i.name for i in proposal.indexes)
    return tuple(
        f"{pattern}: only from {index} (pip takes the highest version found on any of: {names})"
        for pattern, index in sorted(proposal.rules.items())
    )


def _store(proposal: Proposal) -> tuple[str, ...]:
    import keyring

    lines = []
    for index in proposal.indexes:
        if index.password:
            username = index.username or "__token__"
            keyring.set_password(index.url, username, index.password)
            lines.append(
                f"stored the password of {username} for index {index.name} in keyring "
                f"(service {index.url})"
            )
    return tuple(lines)


def _rewrite(
    proposal: Proposal, settings: InitSettings, confirm: Confirm, requirement_files: Sequence[str]
) -> tuple[tuple[Rewritten, ...], tuple[str, ...]]:
    """Passwords out of the files that held them; index options out of requirement files."""
    passwords = [i.password for i in proposal.indexes if i.password]
    findings = [f for i in proposal.indexes for f in i.findings if f.file]
    files = sorted({str(f.file) for f in findings if f.password})
    options = sorted({str(f.file) for f in findings if f.file in requirement_files})
    if not (settings.rewrite and (files or options)):
        return (), ()
    if not (settings.yes or confirm(sorted({*files, *options}))):
        return (), ("--rewrite: not confirmed; no file was changed (pass --yes)",)
    done = [rewrite(Path(f), passwords) for f in files]
    done += [comment_index_options(Path(f)) for f in options]
    return tuple(r for r in done if r is not None), ()


def _target(settings: InitSettings, cwd: Path) -> Path:
    path = settings.output or cwd / ("pyproject.toml" if settings.pyproject else "spip.toml")
    if settings.pyproject:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if "[tool.spip" in text and not settings.force:
            raise UsageError(f"{path} already has [tool.spip]", hint="edit it, or remove it first")
    elif path.exists() and not settings.force:
        raise UsageError(f"{path} exists", hint="pass --force to replace it, or --output FILE")
    return path


def run(settings: InitSettings, services: Services, confirm: Confirm) -> InitResult:
    """Find, propose, and (unless ``--dry-run``) write, store, rewrite and check."""
    discovery = discover(services.cwd, services.environ)
    indexes, default = _proposal(discovery)
    private = [i for i in indexes if i.name != default.name]
    names = list(discovery.found.names)
    served, notes = _served(private, names, services)
    rules, conflicts = rules_for(served, names)
    notes += [f"{p.where}: {p.message}" for p in discovery.found.problems]
    if not names:
        notes.append("no requirements found: the map has no rules yet; add them under [packages]")
    proposal = Proposal(tuple(indexes), default.name, rules, conflicts)
    text = render(proposal, "tool.spip" if settings.pyproject else "")
    secrets = tuple(i.password for i in indexes if i.password)
    exposure = _exposure(served, default, services) if settings.check_exposure else ()
    if not settings.rewrite and any(
        f.file in discovery.requirement_files for i in indexes for f in i.findings
    ):
        notes.append(
            "requirement files name indexes, which spip refuses now that the map routes names: "
            "remove those lines (or run again with --rewrite)"
        )
    base = InitResult(
        text, changes=_changes(proposal), exposure=exposure, notes=tuple(notes), secrets=secrets
    )
    if settings.dry_run:
        return base
    target = _target(settings, services.cwd)
    if settings.pyproject and target.exists():
        atomic_write(target, target.read_text(encoding="utf-8").rstrip() + "\n\n" + text)
    else:
        atomic_write(target, text)
    stored = _store(proposal)
    rewritten, more = _rewrite(proposal, settings, confirm, discovery.requirement_files)
    check = run_check(target, [Path(f) for f in discovery.requirement_files], services=services)
    return InitResult(
        text,
        target,
        stored,
        rewritten,
        check,
        base.changes,
        exposure,
        (*notes, *more),
        secrets,
    )
