"""SARIF 2.1.0 and CycloneDX 1.6 documents of an audit, validated against the published
schemas (offline), and the JSON report's schema 2 summary and exit code."""

from __future__ import annotations

import datetime
from typing import Any

from packaging.utils import NormalizedName

from pipx_secure.audit.formats import cyclonedx, sarif
from pipx_secure.audit.report import (
    AuditReport,
    Exposure,
    FileFinding,
    FileKind,
    Forwarding,
    PackageAudit,
    TransferStats,
    Verdict,
)
from tests.support.schemas import cyclonedx_error, sarif_errors


def pkg(name: str, verdict: Verdict, **extra: Any) -> PackageAudit:
    return PackageAudit(
        NormalizedName(name),
        "1.0",
        "private",
        "pattern: acme-*",
        verdict,
        f"{name} is {verdict.value}",
        location=f"/env/lib/site-packages/{name}-1.0.dist-info",
        **extra,
    )


def report() -> AuditReport:
    site = "/env/lib/python3.11/site-packages"
    return AuditReport(
        python="/env/bin/python",
        packages=(
            pkg(
                "acme-core",
                Verdict.VERIFIED,
                sha256="ab" * 32,
                artifact="acme_core-1.0-py3-none-any.whl",
                record_source="range",
                index_url="https://pkgs.example/simple/",
            ),
            pkg("acme-built", Verdict.ACCEPTED),
            pkg("acme-evil", Verdict.MISMATCH, files=("acme_evil/__init__.py",)),
            pkg("acme-gone", Verdict.NOT_ON_ASSIGNED_INDEX),
            pkg("acme-odd", Verdict.UNVERIFIABLE),
            pkg("acme-spip", Verdict.INSTALLED_BY_SPIP),
        ),
        files=(
            FileFinding(f"{site}/zzz.pth", "site", FileKind.PTH, Verdict.UNOWNED, (), "new", True),
            FileFinding(
                f"{site}/a/__pycache__/x.cpython-311.pyc",
                "site",
                FileKind.BYTECODE,
                Verdict.MISMATCH,
                ("acme-core",),
                "replaced",
            ),
            FileFinding(
                "../../../../etc/x",
                "outside",
                FileKind.RECORD_ENTRY,
                Verdict.MISMATCH,
                ("acme-evil",),
                "outside",
            ),
            FileFinding(
                "/env/bin/activate",
                "scripts",
                FileKind.ENVIRONMENT,
                Verdict.UNVERIFIABLE,
                (),
                "differs",
            ),
            FileFinding(
                f"{site}/b/y.cpython-311.pyc",
                "site",
                FileKind.BYTECODE,
                Verdict.ACCEPTED,
                ("acme-built",),
                "accepted",
            ),
            FileFinding(
                f"{site}/ok.pth",
                "site",
                FileKind.PTH,
                Verdict.VERIFIED,
                ("acme-core",),
                "ok",
                False,
            ),
        ),
        exposures=(Exposure(NormalizedName("acme-core"), "private", "1.0", "99.0", True),),
        forwarding=(Forwarding("private", "requests", "index private forwards"),),
        transfer=TransferStats(range_requests=3, range_bytes=1000, wheels_bytes=90000),
    )


def test_sarif_is_valid_and_has_one_result_per_finding() -> None:
    document = sarif(report())
    assert sarif_errors(document) == []
    results = document["runs"][0]["results"]
    rules = [r["ruleId"] for r in results]
    # 4 distributions that are not clean, 5 file findings, an exposure, a forwarding index.
    assert len(results) == 11
    assert {
        "mismatch",
        "not-on-assigned-index",
        "unverifiable",
        "pth",
        "bytecode",
        "record-entry",
        "exposure",
        "forwarding",
    } <= set(rules)
    accepted = [r for r in results if r["level"] == "note"]
    assert len(accepted) == 2 and all(r["suppressions"][0]["kind"] == "external" for r in accepted)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "file:///env/lib/python3.11/site-packages/zzz.pth" in uris
    assert document["runs"][0]["invocations"][0]["exitCode"] == 1


def test_a_broken_sarif_document_is_caught_by_the_schema() -> None:
    document = sarif(report())
    del document["version"]
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert len(sarif_errors(document)) == 2


def test_cyclonedx_is_valid_and_carries_index_hash_and_verdict() -> None:
    now = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    document = cyclonedx(report(), now=now)
    assert cyclonedx_error(document) is None
    core = next(c for c in document["components"] if c["name"] == "acme-core")
    properties = {p["name"]: p["value"] for p in core["properties"]}
    assert properties["spip:index"] == "private" and properties["spip:verdict"] == "verified"
    assert properties["spip:index_url"] == "https://pkgs.example/simple/"
    assert core["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert core["purl"] == "pkg:pypi/acme-core@1.0?file_name=acme_core-1.0-py3-none-any.whl"
    assert document["metadata"]["timestamp"] == "2025-01-02T03:04:05Z"


def test_a_broken_cyclonedx_document_is_caught_by_the_schema() -> None:
    document = cyclonedx(report())
    document["components"][0]["hashes"] = [{"alg": "SHA-999", "content": "zz"}]
    assert cyclonedx_error(document) is not None


def test_json_schema_2_summary_and_exit_code() -> None:
    data = report().to_json()
    assert data["schema"] == 2 and data["exit_code"] == 1
    assert data["summary"]["packages"] == {
        "accepted": 1,
        "installed-by-spip": 1,
        "mismatch": 1,
        "not-on-assigned-index": 1,
        "unverifiable": 1,
        "verified": 1,
    }
    assert data["summary"]["files"] == {
        "accepted": 1,
        "mismatch": 2,
        "unowned": 1,
        "unverifiable": 1,
        "verified": 1,
    }
    assert data["transfer"]["range_bytes"] == 1000
    clean = AuditReport(
        python="p", packages=(pkg("a", Verdict.VERIFIED), pkg("b", Verdict.ACCEPTED))
    )
    assert clean.exit_code == 0
