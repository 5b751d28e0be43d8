"""PEP 691 JSON project pages (``application/vnd.pypi.simple.v1+json``), parsed purely."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import IntegrityError
from pipx_secure.model import simple_links as links
from pipx_secure.model.filenames import shown
from pipx_secure.model.redact import redact
from pipx_secure.model.simple_links import (
    Collector,
    FileLink,
    ProjectPage,
    Refused,
    check_api_version,
    check_filename,
    check_size,
    file_hashes,
    metadata_hashes,
    resolve_link,
    too_many,
    unsafe_filename,
)


def parse_json_page(body: bytes | str, page_url: str, project: str) -> ProjectPage:
    """Parse a PEP 691 JSON project page (``application/vnd.pypi.simple.v1+json``).

    Raises :class:`IntegrityError` when the page is too large, not JSON, structurally wrong,
    for another project than ``project``, or declares an API major version other than 1.
    """
    expected = canonicalize_name(project)
    where = redact(page_url)
    check_size(body, where)
    try:
        data = json.loads(body)
    except RecursionError:
        raise IntegrityError(
            f"project page {where} is nested too deeply", hint="refused as hostile or broken"
        ) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise IntegrityError(
            f"project page {where} is not valid JSON ({type(exc).__name__})",
            hint="the index must serve PEP 691 JSON for this content type",
        ) from None
    if not isinstance(data, dict):
        raise _shape_error(where, "the page is not a JSON object")
    meta = data.get("meta")
    api_version: str | None = None
    if meta is not None:
        if not isinstance(meta, dict):
            raise _shape_error(where, "'meta' is not an object")
        raw_version = meta.get("api-version")
        if raw_version is not None and not isinstance(raw_version, str):
            raise _shape_error(where, "'meta.api-version' is not a string")
        api_version = raw_version
    if api_version is not None:
        check_api_version(api_version, where)
    name = data.get("name")
    if not isinstance(name, str):
        raise _shape_error(where, "'name' is missing or not a string")
    if canonicalize_name(name) != expected:
        raise IntegrityError(
            f"project page {where} is for project {shown(repr(name))}, not {expected!r}",
            hint="the index answered with another project's page; refused",
        )
    entries = data.get("files")
    if not isinstance(entries, list):
        raise _shape_error(where, "'files' is missing or not a list")
    if len(entries) > links.MAX_FILES:
        raise too_many(where)
    collected = Collector()
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            collected.refuse(f"files[{position}]", "file entry is not an object")
            continue
        filename = entry.get("filename")
        label = filename if isinstance(filename, str) else f"files[{position}]"
        try:
            collected.accept(_json_link(entry, page_url, expected))
        except Refused as refused:
            collected.refuse(label, refused.reason)
    return collected.page(expected, page_url, api_version)


def _shape_error(where: str, what: str) -> IntegrityError:
    return IntegrityError(
        f"project page {where} is malformed: {what}",
        hint="the index must serve PEP 691 JSON for this content type",
    )


def _optional(entry: Mapping[str, Any], key: str, kind: type[str] | type[int]) -> Any:
    """``entry[key]`` if it is a ``kind`` (never a bool), None if absent or null."""
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Refused(f"invalid {key!r}")
    return value


def _json_link(entry: Mapping[str, Any], page_url: str, project: NormalizedName) -> FileLink:
    filename = entry.get("filename")
    raw_url = entry.get("url")
    if not isinstance(filename, str) or not isinstance(raw_url, str):
        raise Refused("missing file name or URL")
    url, _fragment, segment = resolve_link(page_url, raw_url)
    if unsafe_filename(filename):
        raise Refused("unsafe file name")
    if segment != filename:
        raise Refused("file name does not match the URL")
    check_filename(filename, project)
    raw_hashes = entry.get("hashes", {})  # PEP 691 says MUST be present; absent = none
    if not isinstance(raw_hashes, dict):
        raise Refused("invalid 'hashes'")
    hashes = file_hashes(raw_hashes.items())
    requires_python = _optional(entry, "requires-python", str) or None
    yanked_raw = entry.get("yanked")
    yanked: str | None
    if yanked_raw is None or yanked_raw is False:
        yanked = None
    elif yanked_raw is True:
        yanked = ""
    elif isinstance(yanked_raw, str):
        yanked = yanked_raw
    else:
        raise Refused("invalid 'yanked'")
    key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
    metadata_raw = entry.get(key)
    metadata: dict[str, str] | None
    if metadata_raw is None or metadata_raw is False:
        metadata = None
    elif metadata_raw is True:
        metadata = {}
    elif isinstance(metadata_raw, dict):
        metadata = metadata_hashes(metadata_raw.items())
    else:
        raise Refused(f"invalid {key!r}")
    size = _optional(entry, "size", int)
    if size is not None and size < 0:
        raise Refused("invalid 'size'")
    return FileLink(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=requires_python,
        yanked=yanked,
        metadata=metadata,
        size=size,
        upload_time=_optional(entry, "upload-time", str),
    )
