"""The planner: ``resolve(roots, settings, pages, metadata, target) -> Resolution``.

Pure given its inputs: the only world it sees is a
:class:`~pipx_secure.resolve.protocols.PageSource` and a
:class:`~pipx_secure.resolve.protocols.MetadataSource`.  The result is a frozen
:class:`~pipx_secure.model.plan.Plan` plus the candidates it came from (to fetch their files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from pipx_secure.errors import ResolutionError
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Plan
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.protocols import MetadataSource, PageSource
from pipx_secure.resolve.provider import ProviderOptions, RoutedProvider
from pipx_secure.resolve.settings import ResolveSettings


@dataclass(frozen=True)
class Roots:
    """What to resolve: requirements, constraints, and projects given by path or URL."""

    requirements: tuple[Req, ...]
    constraints: Mapping[NormalizedName, SpecifierSet] = field(default_factory=dict)
    local: Mapping[NormalizedName, Candidate] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """The frozen plan plus the candidates it came from (to fetch their files)."""

    plan: Plan
    candidates: Mapping[NormalizedName, Candidate]


def _upgrade(
    settings: ResolveSettings, roots: Roots, target: TargetEnvironment
) -> frozenset[NormalizedName]:
    if settings.upgrade_eager:
        return frozenset(target.installed)
    if settings.upgrade:
        return frozenset(r.name for r in roots.requirements)
    return frozenset()


def resolve(
    roots: Roots,
    settings: ResolveSettings,
    pages: PageSource,
    metadata: MetadataSource,
    target: TargetEnvironment,
    *,
    installed_preferred: bool = True,
) -> Resolution:
    """Resolve ``roots`` for ``target`` through ``pages`` and ``metadata``; installs nothing."""
    for req in roots.requirements:
        pages.index_for(req.name)  # strict maps fail here, before any request
    options = ProviderOptions(
        constraints=roots.constraints,
        policy=settings.policy,
        policy_for=settings.policy_for,
        allow_prereleases=settings.pre,
        preferred=target.installed if installed_preferred else {},
        upgrade=_upgrade(settings, roots, target),
        local=roots.local,
        no_deps=settings.no_deps,
    )
    provider = RoutedProvider(pages, metadata, target, options)
    pages.prefetch(r.name for r in roots.requirements if r.name not in roots.local)
    resolver: Resolver[Req, Candidate, str] = Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(list(roots.requirements), max_rounds=5000)
    except ResolutionImpossible as exc:
        raise ResolutionError(explain(provider, exc.causes), hint=_hint(exc.causes)) from None
    except ResolutionTooDeep:
        raise ResolutionError(
            "resolution took too many rounds", hint="pin some versions to narrow the search"
        ) from None
    candidates = sorted((c for c in result.mapping.values() if not c.extras), key=lambda c: c.name)
    requested = {r.name for r in roots.requirements}
    return Resolution(Plan.from_candidates(candidates, requested), {c.name: c for c in candidates})


def explain(provider: RoutedProvider, causes: Iterable[Any]) -> str:
    """Why resolution is impossible: each requirement, who wanted it, what its index had."""
    parts = []
    seen: set[str] = set()
    for cause in causes:
        req: Req = cause.requirement
        who = "you" if cause.parent is None else str(cause.parent)
        key = f"{req}|{who}"
        if key in seen:
            continue
        seen.add(key)
        local = provider.options.local.get(req.name)
        if local is not None:
            parts.append(f"{req} (required by {who}): the local project is {local}")
            continue
        evaluation = provider.evaluation(req.name)
        index = evaluation.index
        versions = evaluation.versions_seen()
        if versions:
            offered = ", ".join(versions[-8:])
            where = f"index {index.name} ({index.redacted}) has {offered}"
        else:
            where = f"index {index.name} ({index.redacted}) has no project {req.name!r}"
        parts.append(f"{req} (required by {who}): {where}")
    return "cannot resolve: " + "; ".join(parts)


def _hint(causes: Iterable[Any]) -> str:
    names = sorted({c.requirement.name for c in causes})
    return (
        "spip asks each name's assigned index only; check the version constraints, or the "
        f"source map rule for {', '.join(names)} (`spip explain {' '.join(names)}`)"
    )
