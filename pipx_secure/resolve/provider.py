"""The resolvelib provider: it only translates the resolver's questions.

Routing lives in one place: ``find_matches`` reads the project page through
:class:`~pipx_secure.index_client.IndexClient`, which asks ``SourceMap.index_for(name)`` and
that index only — for direct, transitive, extra and build requirements alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from pipx_secure.errors import IntegrityError, ResolutionError
from pipx_secure.index.client import IndexClient
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.coremeta import CoreMetadata
from pipx_secure.resolve.finder import BinaryPolicy, Evaluation, evaluate_page
from pipx_secure.resolve.models import Candidate, Req

MetadataGetter = Callable[[Candidate], CoreMetadata]


def _base_name(identifier: str) -> NormalizedName:
    return NormalizedName(identifier.split("[", 1)[0])


def _is_pin(specifier: SpecifierSet) -> bool:
    return any(s.operator in ("==", "===") and not s.version.endswith(".*") for s in specifier)


class RoutedProvider(AbstractProvider[Req, Candidate, str]):
    """Answers resolvelib from each name's assigned index, for one target environment."""

    def __init__(
        self,
        client: IndexClient,
        target: TargetEnvironment,
        metadata_for: MetadataGetter,
        *,
        constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
        policy: BinaryPolicy = BinaryPolicy.ANY,
        policy_for: Mapping[NormalizedName, BinaryPolicy] | None = None,
        allow_prereleases: bool = False,
        preferred: Mapping[NormalizedName, Version] | None = None,
        upgrade: frozenset[NormalizedName] = frozenset(),
        local: Mapping[NormalizedName, Candidate] | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.metadata_for = metadata_for
        self.constraints = dict(constraints or {})
        self.policy = policy
        self.policy_for = dict(policy_for or {})
        self.allow_prereleases = allow_prereleases
        self.preferred = dict(preferred or {})
        self.upgrade = upgrade
        self.local = dict(local or {})
        self._tag_priority = target.tag_priority()
        self._evaluations: dict[NormalizedName, Evaluation] = {}

    # -- helpers ----------------------------------------------------------------------------
    def evaluation(self, name: NormalizedName) -> Evaluation:
        """The evaluated project page of ``name`` (from its assigned index only)."""
        found = self._evaluations.get(name)
        if found is None:
            page = self.client.page(name)
            index = self.client.source_map.index_for(name).index
            found = evaluate_page(
                page,
                index,
                python_version=self.target.python_version,
                tag_priority=self._tag_priority,
                policy=self.policy_for.get(name, self.policy),
            )
            self._evaluations[name] = found
        return found

    def _marker_env(self, extra: str) -> dict[str, str]:
        env = dict(self.target.markers)
        env["extra"] = extra
        return env

    def applies(self, requirement: Requirement, extras: Iterable[str] = ("",)) -> bool:
        """Whether ``requirement``'s marker holds on the target for any of ``extras``."""
        if requirement.marker is None:
            return True
        return any(requirement.marker.evaluate(self._marker_env(e)) for e in extras)

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
        pinned = any(_is_pin(info.requirement.specifier) for info in infos)
        direct = any(info.parent is None for info in infos)
        causes = {info.requirement.name for info in backtrack_causes}
        return (not pinned, _base_name(identifier) not in causes, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        name = _base_name(identifier)
        reqs = list(requirements[identifier])
        extras: frozenset[NormalizedName] = frozenset()
        for req in reqs:
            extras |= req.extras
        specifiers = [r.specifier for r in reqs]
        if name in self.constraints:
            specifiers.append(self.constraints[name])
        combined = SpecifierSet(",".join(str(s) for s in specifiers if str(s)))
        bad = {c.version for c in incompatibilities[identifier]}
        local = self.local.get(name)
        if local is not None:
            # A project the user gave as a path is the only candidate for its name.
            ok = combined.contains(local.version, prereleases=True) and local.version not in bad
            found_local = [local] if ok else []
            return [c.with_extras(extras) for c in found_local] if extras else found_local
        evaluation = self.evaluation(name)
        versions = [c.version for c in evaluation.candidates]
        prereleases = True if self.allow_prereleases else None
        allowed = set(combined.filter(versions, prereleases=prereleases))
        found = [c for c in evaluation.candidates if c.version in allowed and c.version not in bad]
        if any(_is_pin(s) for s in specifiers):
            # PEP 592: a yanked file is used only when its exact version is pinned.
            found += [
                c
                for c in evaluation.yanked
                if combined.contains(c.version, prereleases=True) and c.version not in bad
            ]
        keep = self.preferred.get(name)
        if keep is not None and name not in self.upgrade:
            found.sort(key=lambda c: c.version != keep)  # stable: installed version first
        if found:
            self.client.prefetch_metadata(found[0].index, found[0].link)
        return [c.with_extras(extras) for c in found] if extras else found

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        meta = self.metadata_for(candidate)
        if meta.name != candidate.name or meta.version != candidate.version:
            raise IntegrityError(
                f"{candidate.filename}: metadata names {meta.name} {meta.version}",
                hint="the artifact's metadata disagrees with its file name; refused",
            )
        parent = f"{candidate.name} {candidate.version}"
        deps: list[Req] = []
        if candidate.extras:
            deps.append(Req(candidate.name, SpecifierSet(f"=={candidate.version}"), parent=parent))
            wanted: Iterable[str] = sorted(candidate.extras)
        else:
            wanted = ("",)
        for requirement in meta.requires_dist:
            if self.applies(requirement, wanted):
                if candidate.extras and self.applies(requirement, ("",)):
                    continue  # the base candidate brings it already
                deps.append(Req.from_requirement(requirement, parent=parent, source=parent))
        self.client.prefetch(d.name for d in deps)
        return deps


def resolve(provider: RoutedProvider, requirements: Sequence[Req]) -> list[Candidate]:
    """Resolve ``requirements``; returns one base candidate per project, sorted by name."""
    resolver: Resolver[Req, Candidate, str] = Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(requirements, max_rounds=5000)
    except ResolutionImpossible as exc:
        raise ResolutionError(_explain(provider, exc.causes), hint=_hint(exc.causes)) from None
    except ResolutionTooDeep:
        raise ResolutionError(
            "resolution took too many rounds", hint="pin some versions to narrow the search"
        ) from None
    pins = [c for c in result.mapping.values() if not c.extras]
    return sorted(pins, key=lambda c: c.name)


def _explain(provider: RoutedProvider, causes: Iterable[Any]) -> str:
    parts = []
    seen: set[str] = set()
    for cause in causes:
        req: Req = cause.requirement
        who = "you" if cause.parent is None else str(cause.parent)
        key = f"{req}|{who}"
        if key in seen:
            continue
        seen.add(key)
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
