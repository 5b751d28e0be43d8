"""Core metadata of candidates: PEP 658 file, cache, wheel, static sdist PKG-INFO, or a build."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.errors import IntegrityError
from pipx_secure.index.pages import RoutedPages
from pipx_secure.install.metadata import ArtifactMetadata
from pipx_secure.model.filenames import parse_filename
from pipx_secure.model.hashes import Digest
from pipx_secure.model.sourcemap import IndexName
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.planner import Roots, resolve
from pipx_secure.resolve.settings import ResolveSettings
from tests.support.packages import build_sdist, build_wheel, metadata_text, write_wheel
from tests.unit.fakes import PRIVATE_URL, RefusingBuilder, Rig, make_rig, sha256_of


def rig_with(tmp: Path, *files: Path, pep658: bool = False) -> Rig:
    """A rig whose private index serves ``files`` (each under the name in its file name)."""
    projects: dict[str, list[Path]] = {}
    for path in files:
        projects.setdefault(parse_filename(path.name).name, []).append(path)
    return make_rig(tmp, {PRIVATE_URL: projects}, pep658=pep658)


def candidate(rig: Rig, path: Path) -> Candidate:
    index = rig.services.load_map(rig.map_path).indexes[IndexName("private")]
    dist = parse_filename(path.name)
    link = rig.transport.link_for(index, path)
    return Candidate(dist.name, dist.version, link, index, frozenset(), path.name)


def source(rig: Rig) -> tuple[ArtifactMetadata, RefusingBuilder]:
    builder = RefusingBuilder(rig.target(), rig.cache)
    return ArtifactMetadata(rig.services.transport(), rig.cache, builder), builder


def requires(meta_requires: tuple[Requirement, ...]) -> list[str]:
    return [str(r) for r in meta_requires]


def test_pep658_file_is_used_and_the_wheel_is_not_downloaded(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    rig = rig_with(tmp_path, wheel, pep658=True)
    metadata, _builder = source(rig)
    found = candidate(rig, wheel)
    meta = metadata.metadata(found)
    assert (meta.name, meta.version) == ("acme-utils", Version("1.0.0"))
    assert requires(meta.requires_dist) == ["acme-core>=1.0"]
    assert rig.transport.asked("metadata") == [("private", wheel.name)]
    assert rig.transport.asked("download") == []
    digest = Digest("sha256", sha256_of(wheel))
    assert rig.cache.lookup(digest, wheel.name) is None
    assert rig.cache.read_metadata(digest) == metadata.raw[str(digest)]


def test_without_a_metadata_file_the_wheel_is_downloaded_and_read(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    rig = rig_with(tmp_path, wheel, pep658=False)
    metadata, _builder = source(rig)
    meta = metadata.metadata(candidate(rig, wheel))
    assert requires(meta.requires_dist) == ["acme-core>=1.0"]
    assert rig.transport.asked("metadata") == []
    assert rig.transport.asked("download") == [("private", wheel.name)]
    digest = Digest("sha256", sha256_of(wheel))
    cached = rig.cache.lookup(digest, wheel.name)
    assert cached is not None and cached.read_bytes() == wheel.read_bytes()


@pytest.mark.parametrize("pep658", [True, False])
def test_second_call_is_served_from_the_cache(tmp_path: Path, pep658: bool) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    rig = rig_with(tmp_path, wheel, pep658=pep658)
    first, _builder = source(rig)
    first.metadata(candidate(rig, wheel))
    asked = list(rig.transport.requests)
    assert len(asked) == 1
    again = first.metadata(candidate(rig, wheel))  # same process: memoized
    later, _builder = source(rig)  # a later run: the on-disk metadata cache
    fresh = later.metadata(candidate(rig, wheel))
    assert rig.transport.requests == asked
    assert again == fresh
    assert requires(fresh.requires_dist) == ["acme-core>=1.0"]


def test_static_sdist_pkg_info_is_used_without_a_build(tmp_path: Path) -> None:
    sdist = build_sdist(
        tmp_path / "files", "acme-tools", "2.0.0", requires=["acme-core>=1.0"], static_metadata=True
    )
    rig = rig_with(tmp_path, sdist)
    metadata, builder = source(rig)
    meta = metadata.metadata(candidate(rig, sdist))
    assert meta.metadata_version == "2.2" and not meta.dynamic
    assert (meta.name, str(meta.version)) == ("acme-tools", "2.0.0")
    assert requires(meta.requires_dist) == ["acme-core>=1.0"]
    assert builder.attempts == []
    assert rig.transport.asked("download") == [("private", sdist.name)]


def test_sdist_without_static_metadata_needs_a_build(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "files", "acme-tools", "2.0.0", static_metadata=False)
    rig = rig_with(tmp_path, sdist)
    metadata, builder = source(rig)
    with pytest.raises(AssertionError, match="unexpected build"):
        metadata.metadata(candidate(rig, sdist))
    assert builder.attempts == ["acme-tools 2.0.0"]


def _lying_wheel(directory: Path) -> Path:
    """``acme_core-1.1.0-...whl`` whose METADATA says it is another project."""
    return write_wheel(
        directory,
        "acme-core",
        "1.1.0",
        {"acme_core/__init__.py": ""},
        metadata_text("evil-pkg", "1.1.0", ["evil-dep"]),
    )


def test_wheel_whose_metadata_names_another_project_is_refused(tmp_path: Path) -> None:
    wheel = _lying_wheel(tmp_path / "files")
    rig = rig_with(tmp_path, wheel, pep658=False)
    metadata, _builder = source(rig)
    with pytest.raises(IntegrityError) as info:
        metadata.metadata(candidate(rig, wheel))
    assert "evil-pkg" in info.value.message and info.value.exit_code == 7
    assert metadata.raw == {}
    assert rig.cache.read_metadata(Digest("sha256", sha256_of(wheel))) is None


def test_pep658_metadata_naming_another_project_stops_resolution(tmp_path: Path) -> None:
    wheel = _lying_wheel(tmp_path / "files")
    rig = rig_with(tmp_path, wheel, pep658=True)
    metadata, _builder = source(rig)
    pages = RoutedPages(rig.services.load_map(rig.map_path), rig.services.transport())
    roots = Roots((Req(NormalizedName("acme-core")),))
    with pytest.raises(IntegrityError, match="metadata names evil-pkg"):
        resolve(roots, ResolveSettings(), pages, metadata, rig.target())
    assert all(name != "evil-dep" for _index, name in rig.transport.asked("page"))


def test_pep658_metadata_naming_another_project_is_refused_by_the_metadata_source(
    tmp_path: Path,
) -> None:
    """The MetadataSource contract: metadata is "checked against its file name".

    A wheel's own METADATA is (see above); a PEP 658 file must be too, and must not be kept
    in the cache under the wheel's digest.
    """
    wheel = _lying_wheel(tmp_path / "files")
    rig = rig_with(tmp_path, wheel, pep658=True)
    metadata, _builder = source(rig)
    with pytest.raises(IntegrityError):
        metadata.metadata(candidate(rig, wheel))
    assert rig.cache.read_metadata(Digest("sha256", sha256_of(wheel))) is None


def test_a_lying_metadata_file_does_not_outlive_the_index_fixing_it(tmp_path: Path) -> None:
    """An honest wheel, a PEP 658 file naming another project: resolution refuses it (good).

    Once the index stops serving the lie, the wheel's own METADATA must decide again; the
    refused bytes must not stay in the cache under the wheel's digest.
    """
    wheel = build_wheel(tmp_path / "files", "acme-core", "1.1.0")
    rig = rig_with(tmp_path, wheel)
    rig.transport.serve_metadata(wheel.name, metadata_text("evil-pkg", "1.1.0").encode())
    pages = RoutedPages(rig.services.load_map(rig.map_path), rig.services.transport())
    roots = Roots((Req(NormalizedName("acme-core")),))
    with pytest.raises(IntegrityError, match="metadata names evil-pkg"):
        resolve(roots, ResolveSettings(), pages, source(rig)[0], rig.target())
    rig.transport.metadata_files.clear()  # the index is fixed: no metadata file any more
    meta = source(rig)[0].metadata(candidate(rig, wheel))
    assert (meta.name, str(meta.version)) == ("acme-core", "1.1.0")


def test_speculation_reads_a_pep658_file_once_and_shares_it(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    rig = rig_with(tmp_path, wheel, pep658=True)
    metadata, _builder = source(rig)
    heard: list[list[str]] = []
    metadata.speculate(
        candidate(rig, wheel), lambda meta: heard.append(requires(meta.requires_dist))
    )
    assert heard == [["acme-core>=1.0"]]
    metadata.metadata(candidate(rig, wheel))  # the resolver: nothing asked again
    assert rig.transport.asked("metadata") == [("private", wheel.name)]
    assert rig.transport.asked("download") == []


def test_speculation_never_downloads_a_wheel_or_an_sdist(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    sdist = build_sdist(tmp_path / "files", "acme-tools", "2.0.0", static_metadata=True)
    rig = rig_with(tmp_path, wheel, sdist, pep658=False)
    metadata, builder = source(rig)
    heard: list[object] = []
    metadata.speculate(candidate(rig, wheel), heard.append)
    metadata.speculate(candidate(rig, sdist), heard.append)
    assert heard == [] and rig.transport.requests == [] and builder.attempts == []
    metadata.metadata(candidate(rig, wheel))  # the resolver still gets it, from the wheel
    assert rig.transport.asked("download") == [("private", wheel.name)]


def test_speculation_reads_the_sealed_cache_without_the_network(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "files", "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    rig = rig_with(tmp_path, wheel, pep658=False)
    first, _builder = source(rig)
    first.metadata(candidate(rig, wheel))  # an earlier run filled the cache
    asked = list(rig.transport.requests)
    later, _builder = source(rig)
    heard: list[list[str]] = []
    later.speculate(candidate(rig, wheel), lambda meta: heard.append(requires(meta.requires_dist)))
    assert heard == [["acme-core>=1.0"]]
    assert rig.transport.requests == asked
