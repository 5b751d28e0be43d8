"""Pure parsers for the Simple Repository API (PEP 503 HTML, PEP 691 JSON).

Also PEP 592 (yanked), PEP 658/714 (core metadata files), PEP 700 (size, upload time).  Wire
data is hostile: every link is checked where it enters, and refused links are kept with a
reason instead of being silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pipx_secure.errors import IntegrityError
from pipx_secure.redact import redact

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
ACCEPT_HEADER = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"
MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_FILES = 200_000
_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UNSAFE = re.compile(r"[/\\\x00-\x1f]")


@dataclass(frozen=True)
class Distribution:
    """What a distribution file name says."""

    name: NormalizedName
    version: Version
    tags: frozenset[Tag] | None
    build: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FileLink:
    """One file of a project page."""

    filename: str
    url: str
    hashes: Mapping[str, str]
    requires_python: str | None = None
    yanked: str | None = None
    metadata: Mapping[str, str] | None = None
    size: int | None = None
    upload_time: str | None = None

    @property
    def metadata_url(self) -> str:
        """PEP 658: the core metadata file is the file URL plus ``.metadata``."""
        return self.url + ".metadata"

    @property
    def is_wheel(self) -> bool:
        """A wheel file."""
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        """An sdist (.tar.gz or .zip)."""
        return self.filename.endswith((".tar.gz", ".zip"))


@dataclass(frozen=True)
class ProjectPage:
    """A project page: its acceptable files, and what was refused and why."""

    name: NormalizedName
    url: str
    files: tuple[FileLink, ...]
    rejected: tuple[tuple[str, str], ...] = ()
    api_version: str | None = None
    _unused: tuple[()] = field(default=(), repr=False, compare=False)


def parse_filename(filename: str) -> Distribution:
    """Name, version and tags of a wheel or sdist file name."""
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return Distribution(name, version, frozenset(tags), tuple(build))
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return Distribution(name, version, None)
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise IntegrityError(f"invalid distribution file name {filename!r}: {exc}") from None
    raise IntegrityError(f"unsupported file type {filename!r}")


def _clean_hashes(raw: Mapping[str, Any]) -> dict[str, str]:
    hashes = {}
    for algorithm, value in raw.items():
        algorithm = str(algorithm).lower()
        if not isinstance(value, str):
            continue
        expected = _HEX_LENGTHS.get(algorithm)
        if expected is None:
            continue
        if len(value) == expected and _HEX.match(value):
            hashes[algorithm] = value.lower()
    return hashes


def _check_link(filename: str, url: str, project: NormalizedName) -> str | None:
    """A reason to refuse this link, or None."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        return f"URL scheme {scheme or 'none'!r} refused"
    if not filename or ".." in filename or _UNSAFE.search(filename):
        return "unsafe file name"
    if not filename.endswith((".whl", ".tar.gz", ".zip")):
        return "unsupported file type"
    try:
        dist = parse_filename(filename)
    except IntegrityError as exc:
        return exc.message
    if dist.name != project:
        return f"file belongs to project {dist.name}"
    return None


def _last_segment(url: str) -> str:
    path = url.split("#", 1)[0].split("?", 1)[0]
    return unquote(path.rsplit("/", 1)[-1])


def _check_version(version: str | None, page_url: str) -> None:
    if version is None:
        return
    major = version.split(".", 1)[0]
    if major != "1":
        raise IntegrityError(
            f"project page {redact(page_url)} uses repository API version {version}",
            hint="spip speaks version 1 of the Simple Repository API",
        )


def parse_json_page(body: bytes | str, page_url: str, project: str) -> ProjectPage:
    """Parse a PEP 691 JSON project page."""
    expected = canonicalize_name(project)
    where = redact(page_url)
    if len(body) > MAX_PAGE_BYTES:
        raise IntegrityError(f"project page {where} is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"project page {where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise IntegrityError(f"project page {where} is not a JSON object")
    meta = data.get("meta", {})
    version = meta.get("api-version") if isinstance(meta, dict) else None
    if version is not None and not isinstance(version, str):
        raise IntegrityError(f"project page {where} has an invalid api-version")
    _check_version(version, page_url)
    name = data.get("name")
    if not isinstance(name, str) or canonicalize_name(name) != expected:
        raise IntegrityError(
            f"project page {where} is for {name!r}, not {expected!r}",
            hint="the index answered with another project's page; refused",
        )
    files = data.get("files", [])
    if not isinstance(files, list):
        raise IntegrityError(f"project page {where}: 'files' must be a list")
    if len(files) > MAX_FILES:
        raise IntegrityError(f"project page {where} lists too many files")
    accepted: list[FileLink] = []
    rejected: list[tuple[str, str]] = []
    for entry in files:
        if not isinstance(entry, dict):
            rejected.append(("?", "file entry is not an object"))
            continue
        filename = entry.get("filename")
        raw_url = entry.get("url")
        if not isinstance(filename, str) or not isinstance(raw_url, str):
            rejected.append((str(filename), "missing filename or url"))
            continue
        url = urldefrag(urljoin(page_url, raw_url))[0]
        reason = _check_link(filename, url, expected)
        if reason is None and _last_segment(url) != filename:
            reason = "URL does not end with the file name"
        raw_hashes = entry.get("hashes", {})
        hashes = _clean_hashes(raw_hashes) if isinstance(raw_hashes, dict) else {}
        if reason is None and isinstance(raw_hashes, dict) and raw_hashes and not hashes:
            reason = "malformed hashes"
        if reason is not None:
            rejected.append((filename, reason))
            continue
        requires_python = entry.get("requires-python")
        yanked_raw = entry.get("yanked", False)
        if isinstance(yanked_raw, str):
            yanked: str | None = yanked_raw
        else:
            yanked = "" if yanked_raw else None
        metadata_raw = entry.get("core-metadata", entry.get("dist-info-metadata"))
        metadata: dict[str, str] | None
        if isinstance(metadata_raw, dict):
            metadata = _clean_hashes(metadata_raw)
        elif metadata_raw is True:
            metadata = {}
        else:
            metadata = None
        size = entry.get("size")
        upload = entry.get("upload-time")
        accepted.append(
            FileLink(
                filename=filename,
                url=url,
                hashes=hashes,
                requires_python=requires_python if isinstance(requires_python, str) else None,
                yanked=yanked,
                metadata=metadata,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                upload_time=upload if isinstance(upload, str) else None,
            )
        )
    return ProjectPage(expected, page_url, tuple(accepted), tuple(rejected), version)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []
        self.api_version: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "base" and self.base is None and attributes.get("href"):
            self.base = attributes["href"]
        elif tag == "a":
            self.anchors.append(attributes)
        elif tag == "meta" and attributes.get("name") == "pypi:repository-version":
            self.api_version = attributes.get("content")


def _fragment_hashes(url: str) -> dict[str, str]:
    fragment = url.partition("#")[2]
    if "=" not in fragment:
        return {}
    algorithm, _, value = fragment.partition("=")
    return _clean_hashes({algorithm: value})


def parse_html_page(body: bytes | str, page_url: str, project: str) -> ProjectPage:
    """Parse a PEP 503 HTML project page."""
    expected = canonicalize_name(project)
    where = redact(page_url)
    if len(body) > MAX_PAGE_BYTES:
        raise IntegrityError(f"project page {where} is too large")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; be safe anyway
        raise IntegrityError(f"project page {where} is not parseable HTML: {exc}") from None
    _check_version(parser.api_version, page_url)
    if len(parser.anchors) > MAX_FILES:
        raise IntegrityError(f"project page {where} lists too many files")
    base = urljoin(page_url, parser.base) if parser.base else page_url
    accepted: list[FileLink] = []
    rejected: list[tuple[str, str]] = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        absolute = urljoin(base, href.strip())
        url, _, fragment = absolute.partition("#")
        filename = _last_segment(url)
        reason = _check_link(filename, url, expected)
        hashes = _fragment_hashes(absolute)
        if reason is None and fragment and not hashes:
            reason = "malformed hash fragment"
        if reason is not None:
            rejected.append((filename or href, reason))
            continue
        yanked = anchor.get("data-yanked") if "data-yanked" in anchor else None
        if "data-yanked" in anchor and yanked is None:
            yanked = ""
        metadata_attr = (
            anchor["data-core-metadata"]
            if "data-core-metadata" in anchor
            else anchor.get("data-dist-info-metadata")
        )
        metadata: dict[str, str] | None
        if "data-core-metadata" in anchor or "data-dist-info-metadata" in anchor:
            if metadata_attr in (None, "", "true"):
                metadata = {}
            elif metadata_attr is not None and "=" in metadata_attr:
                algorithm, _, value = metadata_attr.partition("=")
                metadata = _clean_hashes({algorithm: value})
            else:
                metadata = None
        else:
            metadata = None
        accepted.append(
            FileLink(
                filename=filename,
                url=url,
                hashes=hashes,
                requires_python=anchor.get("data-requires-python") or None,
                yanked=yanked,
                metadata=metadata,
            )
        )
    return ProjectPage(expected, page_url, tuple(accepted), tuple(rejected), parser.api_version)


def parse_project_page(
    body: bytes | str, content_type: str, page_url: str, project: str
) -> ProjectPage:
    """Dispatch on the response's content type (PEP 691 negotiation)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_V1:
        return parse_json_page(body, page_url, project)
    if kind in (HTML_V1, "text/html"):
        return parse_html_page(body, page_url, project)
    raise IntegrityError(
        f"project page {redact(page_url)} has unsupported content type {kind!r}",
        hint="the index must speak the Simple Repository API (PEP 503 or PEP 691)",
    )
