"""The planner over the real routed pages and metadata source, with the fake transport.

Each test reads the fake transport's request log: which index was asked about which name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.errors import PolicyError, ResolutionError
from pipx_secure.index.pages import RoutedPages
from pipx_secure.install.metadata import ArtifactMetadata
from pipx_secure.model.hashes import Digest
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index, IndexName
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.planner import Resolution, Roots, resolve
from pipx_secure.resolve.settings import ResolveSettings
from tests.support.packages import build_wheel
from tests.unit.fakes import PRIVATE_URL, RefusingBuilder, Rig, make_rig, sha256_of, wheel_metadata


def plan(
    rig: Rig,
    *texts: str,
    settings: ResolveSettings | None = None,
    local: Mapping[NormalizedName, Candidate] | None = None,
    metadata: ArtifactMetadata | None = None,
) -> Resolution:
    source_map = rig.services.load_map(rig.map_path)
    transport = rig.services.transport()
    target = rig.target()
    if metadata is None:
        metadata = ArtifactMetadata(transport, rig.cache, RefusingBuilder(target, rig.cache))
    roots = Roots(tuple(Req.from_requirement(Requirement(t)) for t in texts), {}, local or {})
    return resolve(
        roots, settings or ResolveSettings(), RoutedPages(source_map, transport), metadata, target
    )


def chosen(resolution: Resolution) -> dict[str, tuple[str, str]]:
    return {p.name: (str(p.version), p.index) for p in resolution.plan.pins}


def about(rig: Rig, name: str) -> set[str]:
    """The indexes asked anything (page, metadata, file) about ``name``."""
    stem = name.replace("-", "_") + "-"  # wheel and sdist file names start with it
    return {r.index for r in rig.transport.requests if r.name == name or r.name.startswith(stem)}


def test_impostor_at_99_on_public_is_never_chosen_for_a_private_name(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    resolution = plan(rig, "acme-core")
    assert chosen(resolution) == {"acme-core": ("1.1.0", "private")}
    assert resolution.plan.pins[0].index_url == PRIVATE_URL
    assert about(rig, "acme-core") == {"private"}


def test_oddly_spelled_root_is_routed_like_its_normal_form(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    resolution = plan(rig, "ACME_Core>=1")
    assert chosen(resolution) == {"acme-core": ("1.1.0", "private")}
    assert rig.transport.asked("page") == [("private", "acme-core")]


def test_transitive_private_name_is_asked_of_the_private_index_only(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    resolution = plan(rig, "publicdep")  # publicdep requires "ACME.Core>=1.0"
    assert chosen(resolution) == {
        "acme-core": ("1.1.0", "private"),
        "publicdep": ("1.0.0", "public"),
    }
    assert about(rig, "acme-core") == {"private"}
    assert about(rig, "publicdep") == {"public"}
    # The private index's credential goes with every private request and never to public.
    assert all(r.authenticated == (r.index == "private") for r in rig.transport.requests)


def test_no_deps_resolves_only_the_roots(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    resolution = plan(rig, "acme-utils", settings=ResolveSettings(no_deps=True))
    assert chosen(resolution) == {"acme-utils": ("1.0.0", "private")}
    assert list(resolution.candidates) == ["acme-utils"]
    assert about(rig, "acme-core") == set()


def _local_candidate(tmp: Path, name: str, version: str, requires: list[str]) -> Candidate:
    wheel = build_wheel(tmp / "local", name, version, requires=requires)
    link = FileLink(wheel.name, wheel.as_uri(), {"sha256": sha256_of(wheel)})
    index = Index(IndexName("local"), wheel.parent.as_uri() + "/")
    return Candidate(NormalizedName(name), Version(version), link, index, frozenset(), wheel.name)


def _metadata_knowing(rig: Rig, candidate: Candidate) -> ArtifactMetadata:
    target = rig.target()
    metadata = ArtifactMetadata(rig.transport, rig.cache, RefusingBuilder(target, rig.cache))
    wheel = Path(candidate.link.url.removeprefix("file://"))
    digest = Digest("sha256", candidate.link.hashes["sha256"])
    metadata.add(digest, wheel_metadata(wheel), wheel.name)
    return metadata


def test_local_candidate_is_the_only_candidate_for_its_name(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    local = _local_candidate(tmp_path, "publicdep", "7.0.0", ["acme-core<1.1"])
    resolution = plan(
        rig,
        "publicdep",
        local={NormalizedName("publicdep"): local},
        metadata=_metadata_knowing(rig, local),
    )
    assert chosen(resolution) == {
        "acme-core": ("1.0.0", "private"),
        "publicdep": ("7.0.0", "local"),
    }
    assert about(rig, "publicdep") == set()  # the public page was never asked
    assert about(rig, "acme-core") == {"private"}


def test_local_candidate_outside_the_specifier_fails_without_asking_an_index(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    local = _local_candidate(tmp_path, "publicdep", "7.0.0", [])
    with pytest.raises(ResolutionError) as info:
        plan(
            rig,
            "publicdep<2",
            local={NormalizedName("publicdep"): local},
            metadata=_metadata_knowing(rig, local),
        )
    assert "the local project is publicdep 7.0.0" in info.value.render()
    assert rig.transport.requests == []


def test_strict_map_refuses_an_unrouted_root_before_any_request(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, strict=True)
    with pytest.raises(PolicyError) as info:
        plan(rig, "acme-utils", "six-lite")  # acme-utils is routed; six-lite is not
    assert "'six-lite' matches no rule" in info.value.message
    assert info.value.exit_code == 3
    assert rig.transport.requests == []


def test_resolution_failure_names_the_index_and_the_versions_it_has(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    with pytest.raises(ResolutionError) as info:
        plan(rig, "acme-core>=50")
    message = info.value.render()
    assert "acme-core>=50 (required by you)" in message
    assert f"index private ({PRIVATE_URL}) has 1.0.0, 1.1.0" in message
    assert "99" not in message  # the impostor's version is never mentioned
    assert "spip explain acme-core" in message
    assert info.value.exit_code == 4


def test_missing_private_project_is_not_looked_for_elsewhere(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    with pytest.raises(ResolutionError) as info:
        plan(rig, "acme-utils", "acme-missing")
    assert "index private" in info.value.render()
    assert "has no project 'acme-missing'" in info.value.render()
    assert about(rig, "acme-missing") == {"private"}


def test_a_prefetch_tells_then_each_page_once_it_is_in_and_keeps_its_errors(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    pages = RoutedPages(rig.services.load_map(rig.map_path), rig.services.transport())
    heard: list[str] = []
    pages.prefetch([NormalizedName("ACME.Core"), NormalizedName("publicdep")], heard.append)
    assert heard == ["acme-core", "publicdep"]

    def failing(name: NormalizedName) -> None:
        raise RuntimeError(name)

    pages.prefetch([NormalizedName("acme-utils")], failing)  # a hint: never raises
    assert about(rig, "acme-core") == {"private"} and about(rig, "acme-utils") == {"private"}
    assert [name for _, name in rig.transport.asked()] == ["acme-core", "publicdep", "acme-utils"]
