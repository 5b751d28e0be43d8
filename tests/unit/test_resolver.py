"""Routing inside resolution: each name's page comes from its assigned index only."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pipx_secure.errors import ResolutionError
from pipx_secure.model.coremeta import CoreMetadata
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.plan import Plan
from pipx_secure.model.simple_api import FileLink, ProjectPage
from pipx_secure.model.sourcemap import Index, IndexName
from pipx_secure.resolve.finder import BinaryPolicy, Evaluation, evaluate_page
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.planner import Roots, resolve
from pipx_secure.resolve.provider import ProviderOptions, RoutedProvider
from pipx_secure.resolve.scout import Scout
from pipx_secure.resolve.settings import ResolveSettings
from tests.unit.maps import acme_map

MAP = acme_map()
TARGET = TargetEnvironment(
    python=__import__("pathlib").Path("/usr/bin/python3"),
    markers={
        "python_full_version": "3.11.7",
        "python_version": "3.11",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_version": "",
        "implementation_version": "3.11.7",
    },
    tags=(Tag("cp311", "cp311", "manylinux_2_17_x86_64"), Tag("py3", "none", "any")),
    installed={},
    prefix=__import__("pathlib").Path("/usr"),
)


def link(
    filename: str, *, yanked: str | None = None, requires_python: str | None = None
) -> FileLink:
    return FileLink(
        filename=filename,
        url=f"https://files.example/{filename}",
        hashes={"sha256": "0" * 64},
        requires_python=requires_python,
        yanked=yanked,
    )


# Both indexes carry acme-core; the public one is the impostor at 99.
PAGES = {
    ("private", "acme-core"): [
        "acme_core-1.0.0-py3-none-any.whl",
        "acme_core-1.1.0-py3-none-any.whl",
    ],
    ("public", "acme-core"): ["acme_core-99.0.0-py3-none-any.whl"],
    ("private", "acme-utils"): ["acme_utils-1.0.0-py3-none-any.whl"],
    ("public", "publicdep"): ["publicdep-1.0.0-py3-none-any.whl"],
    ("public", "fancy"): ["fancy-2.0.0-py3-none-any.whl"],
}
DEPS = {
    "acme-utils": ["acme-core>=1.0"],
    "publicdep": ["ACME.Core", "colorama; sys_platform == 'win32'"],
    "fancy": ["acme-utils; extra == 'corp'"],
}


class FakePages:
    """A PageSource: records which index was asked about which name."""

    def __init__(self) -> None:
        self.source_map = MAP
        self.asked: list[tuple[str, str]] = []
        self.prefetched: list[str] = []

    def index_for(self, name: NormalizedName) -> Index:
        return self.source_map.index_for(name).index

    def page(self, name: NormalizedName) -> ProjectPage:
        key = canonicalize_name(name)
        index = self.index_for(key)
        self.asked.append((index.name, key))
        files = PAGES.get((index.name, key), [])
        return ProjectPage(key, index.project_url(key), tuple(link(f) for f in files), (), None)

    def prefetch(
        self,
        names: Iterable[NormalizedName],
        then: Callable[[NormalizedName], None] | None = None,
    ) -> None:
        for name in names:
            self.prefetched.append(name)
            if then is not None:
                then(name)  # at once: the page is always "in"


class FakeMetadata:
    """A MetadataSource from the DEPS table."""

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        return CoreMetadata(
            candidate.name,
            candidate.version,
            tuple(Requirement(r) for r in DEPS.get(candidate.name, [])),
            None,
            "2.1",
            frozenset(),
        )

    def __init__(self) -> None:
        self.speculated: list[str] = []

    def prefetch(self, candidate: Candidate) -> None:
        return None

    def speculate(self, candidate: Candidate, then: Callable[[CoreMetadata], None]) -> None:
        self.speculated.append(str(candidate))
        then(self.metadata(candidate))


def run(
    *reqs: str,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    target: TargetEnvironment = TARGET,
) -> tuple[list[Candidate], FakePages]:
    pages = FakePages()
    roots = Roots(tuple(Req.from_requirement(Requirement(r)) for r in reqs), constraints or {})
    resolution = resolve(roots, ResolveSettings(), pages, FakeMetadata(), target)
    return sorted(resolution.candidates.values(), key=lambda c: c.name), pages


def versions(result: list[Candidate]) -> dict[str, str]:
    return {c.name: str(c.version) for c in result}


def test_direct_private_name_gets_private_version() -> None:
    result, client = run("acme-utils")
    assert versions(result) == {"acme-core": "1.1.0", "acme-utils": "1.0.0"}
    assert all(index == "private" for index, _ in client.asked)


def test_transitive_private_name_spelled_oddly_is_never_asked_publicly() -> None:
    result, client = run("publicdep")
    assert versions(result) == {"acme-core": "1.1.0", "publicdep": "1.0.0"}
    assert ("public", "acme-core") not in client.asked
    assert ("private", "publicdep") not in client.asked


def test_extras_route_their_dependencies_too() -> None:
    result, client = run("fancy[corp]")
    assert versions(result) == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "fancy": "2.0.0"}
    assert ("public", "acme-utils") not in client.asked


def test_impossible_resolution_names_index_and_versions() -> None:
    with pytest.raises(ResolutionError) as info:
        run("acme-core>=50")
    message = info.value.render()
    assert "private" in message and "1.1.0" in message and "acme-core>=50" in message
    assert "99" not in message


def test_constraints_narrow_choices() -> None:
    result, _ = run(
        "acme-utils", constraints={NormalizedName("acme-core"): Requirement("x<1.1").specifier}
    )
    assert versions(result)["acme-core"] == "1.0.0"


def test_installed_version_is_preferred_when_on_the_index() -> None:
    target = TARGET.__class__(
        **{**TARGET.__dict__, "installed": {NormalizedName("acme-core"): Version("1.0.0")}}
    )
    result, _ = run("acme-core", target=target)
    assert versions(result) == {"acme-core": "1.0.0"}


def test_plan_is_sorted_and_deterministic() -> None:
    first, _ = run("publicdep", "acme-utils")
    second, _ = run("acme-utils", "publicdep")
    a = Plan.from_candidates(first, [NormalizedName("publicdep")])
    b = Plan.from_candidates(second, [NormalizedName("publicdep")])
    assert [p.name for p in a.pins] == ["acme-core", "acme-utils", "publicdep"]
    assert a.pins == b.pins


def page_of(*files: FileLink) -> ProjectPage:
    return ProjectPage(NormalizedName("pkg"), "https://x.example/simple/pkg/", files, (), None)


def test_finder_prefers_wheels_and_skips_incompatible_and_yanked() -> None:
    index = MAP.indexes[IndexName("public")]
    page = page_of(
        link("pkg-2.0.tar.gz"),
        link("pkg-2.0-py3-none-any.whl"),
        link("pkg-3.0-cp39-cp39-win_amd64.whl"),
        link("pkg-4.0-py3-none-any.whl", yanked="broken"),
        link("pkg-5.0-py3-none-any.whl", requires_python=">=3.13"),
    )
    evaluation = evaluate_page(
        page, index, python_version=Version("3.11.7"), tag_priority=TARGET.tag_priority()
    )
    assert [(str(c.version), c.filename) for c in evaluation.candidates] == [
        ("2.0", "pkg-2.0-py3-none-any.whl")
    ]
    assert [str(c.version) for c in evaluation.yanked] == ["4.0"]
    reasons = dict(evaluation.skipped)
    assert "no compatible wheel tag" in reasons["pkg-3.0-cp39-cp39-win_amd64.whl"]
    assert ">=3.13" in reasons["pkg-5.0-py3-none-any.whl"]


def test_finder_binary_policies() -> None:
    index = MAP.indexes[IndexName("public")]
    page = page_of(link("pkg-2.0.tar.gz"), link("pkg-1.0-py3-none-any.whl"))

    def evaluate(policy: BinaryPolicy) -> Evaluation:
        return evaluate_page(
            page,
            index,
            python_version=Version("3.11.7"),
            tag_priority=TARGET.tag_priority(),
            policy=policy,
        )

    only = evaluate(BinaryPolicy.ONLY_BINARY)
    assert [str(c.version) for c in only.candidates] == ["1.0"]
    none = evaluate(BinaryPolicy.NO_BINARY)
    assert [c.filename for c in none.candidates] == ["pkg-2.0.tar.gz"]
    prefer = evaluate(BinaryPolicy.PREFER_BINARY)
    assert [str(c.version) for c in prefer.candidates] == ["1.0", "2.0"]


def test_the_scout_asks_for_the_likely_graph_ahead_of_the_resolver() -> None:
    pages, metadata = FakePages(), FakeMetadata()
    roots = Roots((Req.from_requirement(Requirement("publicdep")),))
    provider = RoutedProvider(pages, metadata, TARGET)
    Scout(provider).explore(r.name for r in roots.requirements)
    # Before any resolver round: publicdep's page, its likeliest candidate's metadata, and
    # the page of its dependency (from its own index); colorama's marker is false here.
    assert pages.prefetched == ["publicdep", "acme-core"]
    assert metadata.speculated == ["publicdep 1.0.0", "acme-core 1.1.0"]
    assert ("private", "acme-core") in pages.asked and ("public", "acme-core") not in pages.asked
    resolution = resolve(roots, ResolveSettings(), pages, metadata, TARGET)
    assert versions(list(resolution.candidates.values())) == {
        "acme-core": "1.1.0",
        "publicdep": "1.0.0",
    }


def test_the_scout_explores_each_name_once_and_skips_local_projects() -> None:
    pages = FakePages()
    local = {
        NormalizedName("publicdep"): Candidate(
            NormalizedName("publicdep"),
            Version("1"),
            link("publicdep-1-py3-none-any.whl"),
            MAP.index_for(NormalizedName("publicdep")).index,
        )
    }
    provider = RoutedProvider(pages, FakeMetadata(), TARGET, ProviderOptions(local=local))
    scout = Scout(provider)
    scout.explore([NormalizedName("publicdep"), NormalizedName("acme-utils")])
    scout.explore([NormalizedName("acme-utils"), NormalizedName("acme-core")])
    assert pages.prefetched == ["acme-utils", "acme-core"]


def test_the_scout_leaves_errors_to_the_resolver() -> None:
    class Failing(FakePages):
        def page(self, name: NormalizedName) -> ProjectPage:
            raise ResolutionError("the index failed")

    pages = Failing()
    Scout(RoutedProvider(pages, FakeMetadata(), TARGET)).explore([NormalizedName("fancy")])
    assert pages.prefetched == ["fancy"]


def test_likely_is_the_installed_then_the_newest_allowed_version() -> None:
    name = NormalizedName("acme-core")
    assert (
        str(RoutedProvider(FakePages(), FakeMetadata(), TARGET).likely(name)) == "acme-core 1.1.0"
    )
    installed = ProviderOptions(preferred={name: Version("1.0.0")})
    assert str(RoutedProvider(FakePages(), FakeMetadata(), TARGET, installed).likely(name)) == (
        "acme-core 1.0.0"
    )
    upgrade = ProviderOptions(preferred={name: Version("1.0.0")}, upgrade=frozenset({name}))
    assert str(RoutedProvider(FakePages(), FakeMetadata(), TARGET, upgrade).likely(name)) == (
        "acme-core 1.1.0"
    )
    narrowed = ProviderOptions(constraints={name: SpecifierSet("<1.1")})
    assert str(RoutedProvider(FakePages(), FakeMetadata(), TARGET, narrowed).likely(name)) == (
        "acme-core 1.0.0"
    )
    nothing = ProviderOptions(constraints={name: SpecifierSet(">5")})
    assert RoutedProvider(FakePages(), FakeMetadata(), TARGET, nothing).likely(name) is None
