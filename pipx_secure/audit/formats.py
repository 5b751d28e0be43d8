"""The audit in the formats security tools read: SARIF 2.1.0 and CycloneDX 1.6 (JSON).

SARIF (OASIS SARIF v2.1.0, errata 01): one run of the tool ``spip audit``; one rule per kind
of finding; one result per finding that is not clean, located at the file (a path under the
``SITE``/``SCRIPTS`` base ids, or the distribution's dist-info directory) with ``error`` level
for mismatches, unowned files, versions missing from their index, exposures and forwarding
indexes, ``warning`` for unverifiable ones, and accepted findings as ``note`` results carrying
an external suppression.

CycloneDX 1.6: a BOM whose components are the installed distributions (``pkg:pypi`` purls),
each with the sha256 of the artifact it was verified against, and properties in the ``spip:``
namespace: the assigned index and its URL, the rule, the verdict and its reason, and where
the reference RECORD came from.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipx_secure import __version__
from pipx_secure.audit.report import AuditReport, FileFinding, PackageAudit, Verdict

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
CYCLONEDX_SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"

_RULES = {
    "mismatch": "Installed files differ from the artifact of the assigned index",
    "not-on-assigned-index": "The installed version is not on the index the map assigns",
    "unverifiable": "The distribution or file cannot be verified",
    "unowned": "A file Python may execute that no installed distribution owns",
    "pth": "A .pth file (runs code at every start of Python when a line imports)",
    "customize": "sitecustomize or usercustomize (runs at every start of Python)",
    "bytecode": "Bytecode that is not what its source compiles to",
    "record-entry": "A RECORD entry outside the environment",
    "exposure": "A private name that the default index also has",
    "forwarding": "A private index that serves names routed elsewhere",
}


def _level(verdict: Verdict) -> str:
    if verdict is Verdict.ACCEPTED:
        return "note"
    return "warning" if verdict is Verdict.UNVERIFIABLE else "error"


def _rule_for(finding: FileFinding) -> str:
    if finding.kind.value in ("pth", "customize", "bytecode", "record-entry"):
        return finding.kind.value
    return finding.verdict.value if finding.verdict.value in _RULES else "mismatch"


def _result(rule: str, level: str, text: str, uri: str, base: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {"uri": uri}
    if base is not None:
        location["uriBaseId"] = base
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": location}}],
    }


def _accepted(result: dict[str, Any], verdict: Verdict, reason: str) -> dict[str, Any]:
    if verdict is Verdict.ACCEPTED:
        result["suppressions"] = [{"kind": "external", "justification": reason}]
    return result


def _file_uri(path: str) -> str:
    return Path(path).as_uri() if Path(path).is_absolute() else quote(path)


def _package_results(package: PackageAudit) -> list[dict[str, Any]]:
    if package.verdict in (Verdict.VERIFIED, Verdict.INSTALLED_BY_SPIP):
        return []
    where = package.location or package.name
    text = f"{package.name} {package.version} [{package.index or 'no index'}]: {package.reason}"
    if package.files:
        text += " (" + ", ".join(package.files[:20]) + ")"
    result = _result(package.verdict.value, _level(package.verdict), text, _file_uri(where), None)
    result["properties"] = {"package": package.name, "version": package.version}
    return [_accepted(result, package.verdict, package.reason)]


def sarif(report: AuditReport) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log."""
    results: list[dict[str, Any]] = []
    for package in report.packages:
        results += _package_results(package)
    for finding in report.files:
        if finding.verdict is Verdict.VERIFIED:
            continue
        text = f"{finding.path}: {finding.verdict.value}: {finding.reason}"
        result = _result(
            _rule_for(finding), _level(finding.verdict), text, _file_uri(finding.path), None
        )
        _accepted(result, finding.verdict, finding.reason)
        results.append(result)
    for exposure in report.exposures:
        text = (
            f"{exposure.name} is routed to {exposure.index} (highest {exposure.private_version}) "
            f"and the default index has {exposure.public_version}"
        )
        level = "error" if exposure.higher else "warning"
        results.append(_result("exposure", level, text, quote(exposure.name), None))
    for forward in report.forwarding:
        results.append(_result("forwarding", "error", forward.message, quote(forward.index), None))
    rules = [
        {"id": rule, "shortDescription": {"text": text}} for rule, text in sorted(_RULES.items())
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "spip audit", "version": __version__, "rules": rules}},
                "invocations": [{"executionSuccessful": True, "exitCode": report.exit_code}],
                "results": results,
            }
        ],
    }


def _purl(package: PackageAudit) -> str:
    purl = f"pkg:pypi/{quote(package.name)}@{quote(package.version, safe='')}"
    if package.artifact:
        purl += f"?file_name={quote(package.artifact, safe='')}"
    return purl


def _component(package: PackageAudit) -> dict[str, Any]:
    properties = {
        "spip:index": package.index or "",
        "spip:index_url": package.index_url or "",
        "spip:rule": package.rule,
        "spip:verdict": package.verdict.value,
        "spip:reason": package.reason,
        "spip:record_source": package.record_source or "",
    }
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": _purl(package),
        "name": package.name,
        "version": package.version,
        "purl": _purl(package),
        "properties": [{"name": k, "value": v} for k, v in properties.items() if v],
    }
    if package.sha256:
        component["hashes"] = [{"alg": "SHA-256", "content": package.sha256}]
    if package.files:
        component["properties"].append(
            {"name": "spip:differing_files", "value": ", ".join(package.files)}
        )
    return component


def cyclonedx(report: AuditReport, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The report as a CycloneDX 1.6 JSON BOM of the audited environment."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    return {
        "$schema": CYCLONEDX_SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": stamp.isoformat().replace("+00:00", "Z"),
            "tools": {
                "components": [{"type": "application", "name": "spip", "version": __version__}]
            },
            "component": {
                "type": "platform",
                "bom-ref": "audited-environment",
                "name": report.python,
            },
            "properties": [
                {"name": "spip:exit_code", "value": str(report.exit_code)},
                *(
                    {"name": f"spip:summary:{group}:{verdict}", "value": str(count)}
                    for group, counts in report.summary().items()
                    for verdict, count in counts.items()
                ),
            ],
        },
        "components": [_component(p) for p in report.packages],
    }
