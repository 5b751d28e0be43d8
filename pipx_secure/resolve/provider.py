"""The resolvelib provider: it only translates the resolver's questions.

Routing lives in one place: ``find_matches`` reads the project page through a
:class:`~pipx_secure.resolve.protocols.PageSource`, whose only implementation in spip
(``RoutedPages``) asks ``SourceMap.index_for(name)`` and that index only — for direct,
transitive, extra and build requirements alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version
from resolvelib import AbstractProvider

from pipx_secure.errors import IntegrityError
from pipx_secure.model.cooldown import cutoff
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.finder import BinaryPolicy, Evaluation, evaluate_page
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.protocols import MetadataSource, PageSource


def base_name(identifier: str) -> NormalizedName:
    """The project name of a resolver identifier (``name`` or ``name[extras]``)."""
    return NormalizedName(identifier.split("[", 1)[0])


def is_pin(specifier: SpecifierSet) -> bool:
    """Whether ``specifier`` pins one version (``==`` without a wildcard, or ``===``)."""
    return any(s.operator in ("==", "===") and not s.version.endswith(".*") for s in specifier)


@dataclass(frozen=True)
class ProviderOptions:
    """How the provider chooses (fixed before resolution starts)."""

    constraints: Mapping[NormalizedName, SpecifierSet] = field(default_factory=dict)
    policy: BinaryPolicy = BinaryPolicy.ANY
    policy_for: Mapping[NormalizedName, BinaryPolicy] = field(default_factory=dict)
    allow_prereleases: bool = False
    preferred: Mapping[NormalizedName, Version] = field(default_factory=dict)
    upgrade: frozenset[NormalizedName] = frozenset()
    local: Mapping[NormalizedName, Candidate] = field(default_factory=dict)
    no_deps: bool = False
    ignore_requires_python: bool = False
    prereleases_for: Mapping[NormalizedName, bool] = field(default_factory=dict)
    uploaded_prior_to: datetime | None = None
    now: datetime | None = None


class RoutedProvider(AbstractProvider[Req, Candidate, str]):
    """Answers resolvelib from each name's assigned index, for one target environment."""

    def __init__(
        self,
        pages: PageSource,
        metadata: MetadataSource,
        target: TargetEnvironment,
        options: ProviderOptions | None = None,
    ) -> None:
        self.pages = pages
        self.metadata = metadata
        self.target = target
        self.options = options or ProviderOptions()
        self._tag_priority = target.tag_priority()
        self._evaluations: dict[NormalizedName, Evaluation] = {}
        # Where dependency names go as soon as they are known (the planner's Scout).
        self.explore: Callable[[Iterable[NormalizedName]], None] = pages.prefetch

    # -- helpers ----------------------------------------------------------------------------
    def evaluation(self, name: NormalizedName) -> Evaluation:
        """The evaluated project page of ``name`` (from its assigned index only)."""
        found = self._evaluations.get(name)
        if found is None:
            page = self.pages.page(name)
            index = self.pages.index_for(name)
            found = evaluate_page(
                page,
                index,
                python_version=self.target.python_version,
                tag_priority=self._tag_priority,
                policy=self.options.policy_for.get(name, self.options.policy),
                ignore_requires_python=self.options.ignore_requires_python,
                uploaded_before=self._cutoff(index),
            )
            # The scout evaluates pages on other threads: the first evaluation is kept.
            found = self._evaluations.setdefault(name, found)
        return found

    def likely(self, name: NormalizedName) -> Candidate | None:
        """The candidate the resolver will most likely pin for ``name`` (for prefetching
        only): the installed version it prefers, else the newest that the constraints and
        the prerelease rule allow."""
        if name in self.options.local:
            return None
        candidates = self.evaluation(name).candidates
        keep = None if name in self.options.upgrade else self.options.preferred.get(name)
        for candidate in candidates:
            if candidate.version == keep:
                return candidate
        chosen = self.options.prereleases_for.get(name)
        pre = chosen if chosen is not None else self.options.allow_prereleases
        constraint = self.options.constraints.get(name)
        for candidate in candidates:
            if (pre or not candidate.version.is_prerelease) and (
                constraint is None or constraint.contains(candidate.version, prereleases=True)
            ):
                return candidate
        return None

    def _cutoff(self, index: Index) -> datetime | None:
        """The latest upload time allowed for ``index``: --uploaded-prior-to, exclude-newer."""
        moments = [self.options.uploaded_prior_to] if self.options.uploaded_prior_to else []
        if index.exclude_newer is not None:
            now = self.options.now or datetime.now(timezone.utc)
            moments.append(cutoff(index.exclude_newer, now))
        return min(moments) if moments else None

    def applies(self, requirement: Requirement, extras: Iterable[str] = ("",)) -> bool:
        """Whether ``requirement``'s marker holds on the target for any of ``extras``."""
        if requirement.marker is None:
            return True
        return any(requirement.marker.evaluate(dict(self.target.markers, extra=e)) for e in extras)

    # -- resolvelib interface ---------------------------------------------------------------
    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Any:
        infos = list(information[identifier])
        pinned = any(is_pin(info.requirement.specifier) for info in infos)
        direct = any(info.parent is None for info in infos)
        causes = {info.requirement.name for info in backtrack_causes}
        return (not pinned, base_name(identifier) not in causes, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        name = base_name(identifier)
        reqs = list(requirements[identifier])
        extras: frozenset[NormalizedName] = frozenset().union(*(r.extras for r in reqs))
        specifiers = [r.specifier for r in reqs]
        if name in self.options.constraints:
            specifiers.append(self.options.constraints[name])
        combined = SpecifierSet(",".join(str(s) for s in specifiers if str(s)))
        bad = {c.version for c in incompatibilities[identifier]}
        found = self._matches(name, combined, any(is_pin(s) for s in specifiers), bad)
        keep = self.options.preferred.get(name)
        if keep is not None and name not in self.options.upgrade:
            found.sort(key=lambda c: c.version != keep)  # stable: installed version first
        if found and name not in self.options.local:
            self.metadata.prefetch(found[0])
        return [c.with_extras(extras) for c in found] if extras else found

    def _matches(
        self, name: NormalizedName, combined: SpecifierSet, pinned: bool, bad: set[Version]
    ) -> list[Candidate]:
        local = self.options.local.get(name)
        if local is not None:
            # A project the user gave as a path or URL is the only candidate for its name.
            ok = combined.contains(local.version, prereleases=True) and local.version not in bad
            return [local] if ok else []
        evaluation = self.evaluation(name)
        versions = [c.version for c in evaluation.candidates]
        chosen = self.options.prereleases_for.get(name)
        prereleases = chosen if chosen is not None else self.options.allow_prereleases or None
        allowed = set(combined.filter(versions, prereleases=prereleases))
        found = [c for c in evaluation.candidates if c.version in allowed and c.version not in bad]
        if pinned:
            # PEP 592: a yanked file is used only when its exact version is pinned.
            found += [
                c
                for c in evaluation.yanked
                if combined.contains(c.version, prereleases=True) and c.version not in bad
            ]
        return found

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        parent = f"{candidate.name} {candidate.version}"
        base = Req(candidate.name, SpecifierSet(f"=={candidate.version}"), parent=parent)
        if self.options.no_deps:
            return [base] if candidate.extras else []
        meta = self.metadata.metadata(candidate)
        if meta.name != candidate.name or meta.version != candidate.version:
            raise IntegrityError(
                f"{candidate.filename}: metadata names {meta.name} {meta.version}",
                hint="the artifact's metadata disagrees with its file name; refused",
            )
        deps: list[Req] = [base] if candidate.extras else []
        wanted: Iterable[str] = sorted(candidate.extras) if candidate.extras else ("",)
        for requirement in meta.requires_dist:
            if self.applies(requirement, wanted):
                if candidate.extras and self.applies(requirement, ("",)):
                    continue  # the base candidate brings it already
                deps.append(Req.from_requirement(requirement, parent=parent, source=parent))
        self.explore(d.name for d in deps)
        return deps
