"""The no-op fast path trusts only what spip installed from the assigned index."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.provenance import ProvenanceEntry
from pipx_secure.resolve.models import Req
from pipx_secure.resolve.satisfied import already_satisfied
from tests.unit.maps import acme_map

MAP = acme_map()
TARGET = TargetEnvironment(
    python=Path("/x/bin/python"),
    markers={"python_version": "3.11", "sys_platform": "linux", "python_full_version": "3.11.7"},
    tags=(),
    installed={
        NormalizedName("acme-utils"): Version("1.0.0"),
        NormalizedName("acme-core"): Version("1.1.0"),
    },
    prefix=Path("/x"),
    requires={NormalizedName("acme-utils"): ("acme-core>=1.0", "pywin32; sys_platform=='win32'")},
)


def entry(name: str, version: str, index: str) -> ProvenanceEntry:
    return ProvenanceEntry(name, version, index, f"https://{index}.example/simple/", "f", "0")


def req(text: str) -> Req:
    return Req.from_requirement(Requirement(text))


def test_closure_installed_by_spip_is_satisfied() -> None:
    prov = {
        "acme-utils": entry("acme-utils", "1.0.0", "private"),
        "acme-core": entry("acme-core", "1.1.0", "private"),
    }
    assert already_satisfied([req("acme-utils")], TARGET, MAP, prov)


def test_dependency_not_recorded_means_full_path() -> None:
    prov = {"acme-utils": entry("acme-utils", "1.0.0", "private")}
    assert not already_satisfied([req("acme-utils")], TARGET, MAP, prov)


def test_recorded_from_another_index_is_not_trusted() -> None:
    prov = {
        "acme-utils": entry("acme-utils", "1.0.0", "private"),
        "acme-core": entry("acme-core", "1.1.0", "public"),
    }
    assert not already_satisfied([req("acme-utils")], TARGET, MAP, prov)


def test_unsatisfied_specifier() -> None:
    prov = {
        "acme-utils": entry("acme-utils", "1.0.0", "private"),
        "acme-core": entry("acme-core", "1.1.0", "private"),
    }
    assert not already_satisfied([req("acme-utils>=2")], TARGET, MAP, prov)
