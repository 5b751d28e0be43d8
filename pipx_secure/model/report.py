"""``--report FILE``: pip's installation report format, with each package's index.

The structure follows pip's documented installation report (version 1): ``version``,
``pip_version``, ``install`` (one item per distribution with ``download_info``, ``is_direct``,
``is_yanked``, ``requested``, ``requested_extras`` and ``metadata`` in the JSON form of core
metadata, PEP 566) and ``environment`` (the target's marker values).  spip adds, per item,
``index`` (the credential-free URL of the assigned index) and ``index_name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.metadata import parse_email

from pipx_secure.model.plan import Plan
from pipx_secure.model.redact import strip_userinfo

_MULTI = {
    "classifiers",
    "requires_dist",
    "provides_extra",
    "project_urls",
    "platforms",
    "supported_platforms",
    "requires_external",
    "provides_dist",
    "obsoletes_dist",
    "dynamic",
    "license_files",
}


def metadata_json(raw: bytes | None, name: str, version: str) -> dict[str, Any]:
    """Core metadata as JSON (PEP 566 form) from METADATA/PKG-INFO bytes."""
    if not raw:
        return {"metadata_version": "2.1", "name": name, "version": version}
    parsed, _unparsed = parse_email(raw)
    result: dict[str, Any] = {}
    for key, value in parsed.items():
        if key == "project_urls" and isinstance(value, dict):
            result[key] = [f"{k}, {v}" for k, v in value.items()]
        elif key in _MULTI and isinstance(value, (list, tuple)):
            result[key] = list(value)
        else:
            result[key] = value
    return result


def installation_report(
    plan: Plan,
    *,
    raw_metadata: Mapping[str, bytes],
    environment: Mapping[str, str],
    yanked: frozenset[str] = frozenset(),
    requested_extras: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The report dict for ``plan`` (pure)."""
    from pip import __version__ as pip_version

    items = []
    for pin in plan.pins:
        items.append(
            {
                "download_info": {
                    "url": strip_userinfo(pin.url),
                    "archive_info": {
                        "hash": f"{pin.digest.algorithm}={pin.digest.hexdigest}",
                        "hashes": {pin.digest.algorithm: pin.digest.hexdigest},
                    },
                },
                "is_direct": False,
                "is_yanked": pin.filename in yanked,
                "requested": pin.requested,
                "requested_extras": sorted((requested_extras or {}).get(pin.name, [])),
                "metadata": metadata_json(
                    raw_metadata.get(str(pin.digest)), pin.name, str(pin.version)
                ),
                "index": strip_userinfo(pin.index_url),
                "index_name": pin.index,
            }
        )
    return {
        "version": "1",
        "pip_version": pip_version,
        "install": items,
        "environment": dict(environment),
    }
