"""Resolution errors name what the index had, what matched, and why each match was rejected."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import ResolutionError
from pipx_secure.model.coremeta import CoreMetadata
from pipx_secure.model.simple_api import FileLink, ProjectPage
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.planner import Roots, resolve
from pipx_secure.resolve.settings import ResolveSettings
from tests.unit.maps import acme_map
from tests.unit.test_resolver import TARGET

MAP = acme_map()


def link(filename: str, **extra: object) -> FileLink:
    return FileLink(filename, f"https://files.example/{filename}", {"sha256": "0" * 64}, **extra)  # type: ignore[arg-type]


class Pages:
    def __init__(self, files: dict[str, list[FileLink]]) -> None:
        self.files = files

    def index_for(self, name: NormalizedName) -> Index:
        return MAP.index_for(name).index

    def page(self, name: NormalizedName) -> ProjectPage:
        key = canonicalize_name(name)
        return ProjectPage(key, "https://x.example/", tuple(self.files.get(key, [])), (), None)

    def prefetch(
        self,
        names: Iterable[NormalizedName],
        then: Callable[[NormalizedName], None] | None = None,
    ) -> None:
        list(names)


class NoDeps:
    def metadata(self, candidate: Candidate) -> CoreMetadata:
        return CoreMetadata(candidate.name, candidate.version, (), None, "2.1", frozenset())

    def prefetch(self, candidate: Candidate) -> None:
        return None

    def speculate(self, candidate: Candidate, then: Callable[[CoreMetadata], None]) -> None:
        return None


def failure(requirement: str, files: dict[str, list[FileLink]]) -> str:
    roots = Roots((Req.from_requirement(Requirement(requirement)),))
    with pytest.raises(ResolutionError) as info:
        resolve(roots, ResolveSettings(), Pages(files), NoDeps(), TARGET)
    return info.value.render()


def test_wheel_tags_and_requires_python_are_named_as_the_causes() -> None:
    message = failure(
        "charset-normalizer>=2,<4",
        {
            "charset-normalizer": [
                link("charset_normalizer-3.5.2-cp312-cp312-manylinux_2_17_x86_64.whl"),
                link("charset_normalizer-3.4.0-py3-none-any.whl", requires_python=">=3.12"),
                link("charset_normalizer-1.0.0-py3-none-any.whl"),
            ]
        },
    )
    assert "3.5.2: no compatible wheel tag" in message
    assert "3.4.0: requires Python >=3.12" in message
    assert "not usable here" in message
    assert "has 3.5.2" not in message  # the old, misleading wording


def test_matching_versions_are_all_listed_and_prereleases_apart() -> None:
    files = [link(f"pkg-1.{n}.0-py3-none-any.whl") for n in range(12)]
    files.append(link("pkg-2.0.0b1-py3-none-any.whl"))
    roots = Roots(
        (
            Req.from_requirement(Requirement("pkg>=1.1")),
            Req.from_requirement(Requirement("pkg<1.1")),
        )
    )
    with pytest.raises(ResolutionError) as info:
        resolve(roots, ResolveSettings(), Pages({"pkg": files}), NoDeps(), TARGET)
    message = info.value.render()
    listed = message.split("pkg>=1.1 (required by you)", 1)[1]
    assert "matching versions 1.1.0, 1.2.0" in listed and "1.11.0" in listed  # all, not 8
    assert "pre-releases 2.0.0b1" in listed


def test_page_whose_every_file_was_refused_says_so() -> None:
    roots = Roots((Req.from_requirement(Requirement("acme-core")),))
    refused = ProjectPage(
        canonicalize_name("acme-core"),
        "https://x.example/",
        (),
        (("acme_core-1.0.tar.gz", "malformed hash"), ("evil.whl", "unsafe file name")),
        None,
    )

    class Refusing(Pages):
        def page(self, name: NormalizedName) -> ProjectPage:
            return refused

    with pytest.raises(ResolutionError) as info:
        resolve(roots, ResolveSettings(), Refusing({}), NoDeps(), TARGET)
    message = info.value.render()
    assert "has 2 file(s), every one refused" in message and "malformed hash" in message
    assert "has no project" not in message
