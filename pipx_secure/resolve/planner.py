"""The planner: ``resolve(roots, settings, pages, metadata, target) -> Resolution``.

Pure given its inputs: the only world it sees is a
:class:`~pipx_secure.resolve.protocols.PageSource` and a
:class:`~pipx_secure.resolve.protocols.MetadataSource`.  The result is a frozen
:class:`~pipx_secure.model.plan.Plan` plus the candidates it came from (to fetch their files).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from resolvelib import BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from pipx_secure.errors import ResolutionError
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Plan
from pipx_secure.resolve.explain import explain, hint
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.protocols import MetadataSource, PageSource
from pipx_secure.resolve.provider import ProviderOptions, RoutedProvider
from pipx_secure.resolve.scout import Scout
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


class _PinReporter(BaseReporter[Req, Candidate, str]):
    """Tells ``on_pin`` which candidate the resolver pins."""

    def __init__(self, on_pin: Callable[[str], None] | None) -> None:
        self.on_pin = on_pin

    def pinning(self, candidate: Candidate) -> None:
        if self.on_pin is not None:
            self.on_pin(f"{candidate.name} {candidate.version}")


def resolve(
    roots: Roots,
    settings: ResolveSettings,
    pages: PageSource,
    metadata: MetadataSource,
    target: TargetEnvironment,
    *,
    installed_preferred: bool = True,
    on_pin: Callable[[str], None] | None = None,
) -> Resolution:
    """Resolve ``roots`` for ``target`` through ``pages`` and ``metadata``; installs nothing.

    ``on_pin`` hears each candidate the resolver tries ("name version"), for a progress display.
    """
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
        ignore_requires_python=settings.ignore_requires_python,
        prereleases_for=settings.prereleases_for,
        uploaded_prior_to=settings.uploaded_prior_to,
        now=settings.now,
    )
    provider = RoutedProvider(pages, metadata, target, options)
    scout = Scout(provider)
    provider.explore = scout.explore
    scout.explore(r.name for r in roots.requirements)
    resolver: Resolver[Req, Candidate, str] = Resolver(provider, _PinReporter(on_pin))
    try:
        result = resolver.resolve(list(roots.requirements), max_rounds=5000)
    except ResolutionImpossible as exc:
        message = explain(provider.evaluation, roots.local, exc.causes)
        raise ResolutionError(message, hint=hint(exc.causes)) from None
    except ResolutionTooDeep:
        raise ResolutionError(
            "resolution took too many rounds", hint="pin some versions to narrow the search"
        ) from None
    candidates = sorted((c for c in result.mapping.values() if not c.extras), key=lambda c: c.name)
    requested = {r.name for r in roots.requirements}
    return Resolution(Plan.from_candidates(candidates, requested), {c.name: c for c in candidates})
