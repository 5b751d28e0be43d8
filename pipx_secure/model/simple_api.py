"""Pure parsers for the Simple Repository API.

Specifications followed:

* PEP 503 -- the HTML project page: one ``<a>`` per file, ``#<hashname>=<hex>`` URL fragments,
  ``data-requires-python`` (HTML-escaped), relative links resolved against the page (or its
  ``<base href>``).
* PEP 691 -- the JSON form (``application/vnd.pypi.simple.v1+json``) and content negotiation.
* PEP 629 -- the ``pypi:repository-version`` meta tag / ``meta.api-version``: a major version
  other than 1 is refused.
* PEP 592 -- yanked files (``data-yanked`` / ``yanked``).
* PEP 658 and PEP 714 -- core metadata files (``data-core-metadata`` preferred over
  ``data-dist-info-metadata``; ``core-metadata`` preferred over ``dist-info-metadata``).
* PEP 700 -- ``size`` and ``upload-time`` in the JSON form.

Wire data is hostile.  A page whose structure is wrong raises
:class:`~pipx_secure.errors.IntegrityError` naming the page URL (redacted).  A single bad link
does not: it is kept in :attr:`ProjectPage.rejected` with a printable reason, so that a
report can say why a file was not considered.  Everything here is pure: no I/O, and the same
input always gives the same output.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipx_secure.errors import IntegrityError
from pipx_secure.model.redact import redact

JSON_V1 = "application/vnd.pypi.simple.v1+json"
"""PEP 691 content type of the JSON project page, version 1."""

HTML_V1 = "application/vnd.pypi.simple.v1+html"
"""PEP 691 content type of the HTML project page, version 1."""

ACCEPT_HEADER = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"
"""PEP 691 ``Accept`` header: JSON v1 first, then HTML v1, then legacy ``text/html``."""

MAX_PAGE_BYTES = 64 * 1024 * 1024
"""Largest project page accepted, in bytes (UTF-8 for a ``str`` body)."""

MAX_FILES = 200_000
"""Most links (HTML ``<a>`` elements or JSON file entries) accepted on one page."""

SUPPORTED_API_MAJOR = 1
"""The major version of the Simple Repository API these parsers speak (PEP 629)."""

#: Hex digest lengths of the hashlib algorithms PEP 503 lets an index name.  Other names are
#: ignored; a known name with a value of the wrong shape is malformed.
_HEX_LENGTHS: Mapping[str, int] = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "sha3_224": 56,
    "sha3_256": 64,
    "sha3_384": 96,
    "sha3_512": 128,
    "blake2s": 64,
    "blake2b": 128,
}
_HEX = re.compile(r"[0-9a-fA-F]+")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_WHEEL_SUFFIX = ".whl"
_SDIST_SUFFIXES = (".tar.gz", ".zip")
_DIST_SUFFIXES = (_WHEEL_SUFFIX, *_SDIST_SUFFIXES)
_SCHEMES = frozenset({"http", "https"})
_MAX_SHOWN = 200
_USERINFO = re.compile(r"([^/\s@:]*):[^/\s@]*@")


@dataclass(frozen=True)
class Distribution:
    """What a distribution file name tells: project, version, and for wheels tags and build."""

    name: NormalizedName
    version: Version
    tags: frozenset[Tag] | None
    """The wheel's compatibility tags; None for an sdist."""
    build: BuildTag = ()
    """The wheel build tag, ``()`` when absent and for sdists."""


@dataclass(frozen=True)
class FileLink:
    """One acceptable file of a project page."""

    filename: str
    url: str
    """Absolute http(s) URL, resolved against the page, without fragment."""
    hashes: Mapping[str, str]
    """Lower-case algorithm name -> lower-case hex digest (only well-formed ones)."""
    requires_python: str | None = None
    """PEP 503 ``data-requires-python`` (HTML-unescaped) or JSON ``requires-python``."""
    yanked: str | None = None
    """PEP 592: None when not yanked, ``""`` when yanked with no reason, else the reason."""
    metadata: Mapping[str, str] | None = None
    """PEP 658/714: hashes of the ``.metadata`` file; ``{}`` if offered unhashed; None if not."""
    size: int | None = None
    """PEP 700 file size in bytes (JSON only)."""
    upload_time: str | None = None
    """PEP 700 upload time, as the index wrote it (JSON only)."""

    @property
    def metadata_url(self) -> str:
        """PEP 658: the core metadata file's URL is the file's URL plus ``.metadata``."""
        return self.url + ".metadata"

    @property
    def is_wheel(self) -> bool:
        """Whether the file is a wheel."""
        return self.filename.endswith(_WHEEL_SUFFIX)

    @property
    def is_sdist(self) -> bool:
        """Whether the file is an sdist (``.tar.gz`` or ``.zip``)."""
        return self.filename.endswith(_SDIST_SUFFIXES)


@dataclass(frozen=True)
class ProjectPage:
    """A parsed project page: its acceptable files, and each refused link with the reason."""

    name: NormalizedName
    url: str
    files: tuple[FileLink, ...]
    """The acceptable files, in page order."""
    rejected: tuple[tuple[str, str], ...]
    """(file name or redacted href, reason) per refused link; both printable."""
    api_version: str | None
    """PEP 629 repository version the page declares, if any."""


class _Refused(Exception):
    """A link is refused; ``reason`` says why (internal control flow only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _TooManyLinks(Exception):
    """Raised by the HTML parser once a page has more than MAX_FILES links."""


def _shown(text: str) -> str:
    """``text`` safe to print: capped in length, non-printable characters escaped."""
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "..."
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def parse_filename(filename: str) -> Distribution:
    """Project, version, tags and build tag of a wheel or sdist file name.

    Raises :class:`IntegrityError` when ``filename`` is not a valid wheel (PEP 427) or sdist
    (``.tar.gz``/``.zip``) name.
    """
    try:
        if filename.endswith(_WHEEL_SUFFIX):
            name, version, build, tags = parse_wheel_filename(filename)
            return Distribution(name, version, frozenset(tags), build)
        if filename.endswith(_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            return Distribution(name, version, None, ())
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion, ValueError):
        raise IntegrityError(
            f"invalid distribution file name {_shown(repr(filename))}",
            hint="wheel names are NAME-VERSION(-BUILD)-PY-ABI-PLATFORM.whl; sdists "
            "NAME-VERSION.tar.gz",
        ) from None
    raise IntegrityError(
        f"unsupported file type {_shown(repr(filename))}",
        hint="only wheels (.whl) and sdists (.tar.gz, .zip) are installable",
    )


# -- checks shared by both page forms -----------------------------------------------------


def _check_size(body: bytes | str, where: str) -> None:
    size = len(body)
    if isinstance(body, str) and size <= MAX_PAGE_BYTES < size * 4:
        size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_PAGE_BYTES:
        raise IntegrityError(
            f"project page {where} is larger than {MAX_PAGE_BYTES // (1024 * 1024)} MiB",
            hint="refused as hostile or broken; check the index",
        )


def _too_many(where: str) -> IntegrityError:
    return IntegrityError(
        f"project page {where} lists more than {MAX_FILES} files",
        hint="refused as hostile or broken; check the index",
    )


def _check_api_version(version: str, where: str) -> None:
    major = version.strip().partition(".")[0]
    if not (major.isascii() and major.isdigit()):
        shown = _shown(repr(version))
        raise IntegrityError(
            f"project page {where} declares an invalid repository version {shown}",
            hint="PEP 629 versions look like '1.0'",
        )
    if int(major) != SUPPORTED_API_MAJOR:
        raise IntegrityError(
            f"project page {where} uses repository API version {_shown(version)}",
            hint=f"spip speaks version {SUPPORTED_API_MAJOR}.x of the Simple Repository API",
        )


def _unsafe_filename(filename: str) -> bool:
    if not filename or "/" in filename or "\\" in filename or ".." in filename:
        return True
    if _ASCII_CONTROL.search(filename):
        return True
    return not filename.isascii() and any(
        unicodedata.category(c) in _UNSAFE_CATEGORIES for c in filename
    )


def _resolve(base: str, href: str) -> tuple[str, str, str]:
    """(absolute URL without fragment, fragment, decoded last path segment) of a link."""
    try:
        parts = urlsplit(urljoin(base, href.strip()))
        _ = parts.port  # raises ValueError for an invalid port
    except ValueError:
        raise _Refused("invalid URL") from None
    if parts.scheme not in _SCHEMES:
        raise _Refused(f"URL scheme {_shown(parts.scheme) or 'none'!r} refused")
    if not parts.hostname:
        raise _Refused("URL has no host")
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return url, parts.fragment, unquote(parts.path.rpartition("/")[2])


def _check_filename(filename: str, project: NormalizedName) -> None:
    if _unsafe_filename(filename):
        raise _Refused("unsafe file name")
    if not filename.endswith(_DIST_SUFFIXES):
        raise _Refused("unsupported file type")
    try:
        dist = parse_filename(filename)
    except IntegrityError:
        raise _Refused("invalid distribution file name") from None
    if dist.name != project:
        raise _Refused(f"file belongs to project {dist.name}")


def _clean_hashes(pairs: Iterable[tuple[object, object]]) -> tuple[dict[str, str], bool]:
    """(well-formed digests sorted by algorithm, whether any known algorithm was malformed).

    Unknown algorithm names are ignored.  Two different digests for one algorithm refuse the
    link.
    """
    found: dict[str, str] = {}
    malformed = False
    for algorithm, value in pairs:
        if not isinstance(algorithm, str):
            continue
        name = algorithm.lower()
        length = _HEX_LENGTHS.get(name)
        if length is None:
            continue
        if not (isinstance(value, str) and len(value) == length and _HEX.fullmatch(value)):
            malformed = True
            continue
        digest = value.lower()
        if found.setdefault(name, digest) != digest:
            raise _Refused(f"conflicting {name} hashes")
    return dict(sorted(found.items())), malformed


def _file_hashes(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    hashes, malformed = _clean_hashes(pairs)
    if malformed and not hashes:
        raise _Refused("malformed hash")
    return hashes


def _metadata_hashes(pairs: Iterable[tuple[object, object]]) -> dict[str, str] | None:
    """A PEP 658 hash set; None (treat as not offered) when its only hashes are malformed."""
    hashes, malformed = _clean_hashes(pairs)
    if malformed and not hashes:
        return None
    return hashes


def _fragment_pairs(fragment: str) -> list[tuple[object, object]]:
    pairs: list[tuple[object, object]] = []
    for part in fragment.split("&"):
        key, sep, value = part.partition("=")
        if sep:
            pairs.append((key, value))
    return pairs


class _Collector:
    """Accepted and refused links of one page, in page order, without duplicate file names."""

    def __init__(self) -> None:
        self.files: list[FileLink] = []
        self.rejected: list[tuple[str, str]] = []
        self._seen: set[str] = set()

    def accept(self, link: FileLink) -> None:
        if link.filename in self._seen:
            self.refuse(link.filename, "duplicate file name")
            return
        self._seen.add(link.filename)
        self.files.append(link)

    def refuse(self, what: str, reason: str) -> None:
        """Record a refused link; ``what`` is made printable, any ``user:password@`` masked."""
        self.rejected.append((_shown(_USERINFO.sub(r"\1:****@", what)), reason))

    def page(self, name: NormalizedName, url: str, api_version: str | None) -> ProjectPage:
        return ProjectPage(name, url, tuple(self.files), tuple(self.rejected), api_version)


# -- PEP 691 JSON -----------------------------------------------------------------------------


def parse_json_page(body: bytes | str, page_url: str, project: str) -> ProjectPage:
    """Parse a PEP 691 JSON project page (``application/vnd.pypi.simple.v1+json``).

    Raises :class:`IntegrityError` when the page is too large, not JSON, structurally wrong,
    for another project than ``project``, or declares an API major version other than 1.
    """
    expected = canonicalize_name(project)
    where = redact(page_url)
    _check_size(body, where)
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
        _check_api_version(api_version, where)
    name = data.get("name")
    if not isinstance(name, str):
        raise _shape_error(where, "'name' is missing or not a string")
    if canonicalize_name(name) != expected:
        raise IntegrityError(
            f"project page {where} is for project {_shown(repr(name))}, not {expected!r}",
            hint="the index answered with another project's page; refused",
        )
    entries = data.get("files")
    if not isinstance(entries, list):
        raise _shape_error(where, "'files' is missing or not a list")
    if len(entries) > MAX_FILES:
        raise _too_many(where)
    collected = _Collector()
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            collected.refuse(f"files[{position}]", "file entry is not an object")
            continue
        filename = entry.get("filename")
        shown = filename if isinstance(filename, str) else f"files[{position}]"
        try:
            collected.accept(_json_link(entry, page_url, expected))
        except _Refused as refused:
            collected.refuse(shown, refused.reason)
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
        raise _Refused(f"invalid {key!r}")
    return value


def _json_link(entry: Mapping[str, Any], page_url: str, project: NormalizedName) -> FileLink:
    filename = entry.get("filename")
    raw_url = entry.get("url")
    if not isinstance(filename, str) or not isinstance(raw_url, str):
        raise _Refused("missing file name or URL")
    url, _fragment, segment = _resolve(page_url, raw_url)
    if _unsafe_filename(filename):
        raise _Refused("unsafe file name")
    if segment != filename:
        raise _Refused("file name does not match the URL")
    _check_filename(filename, project)
    raw_hashes = entry.get("hashes", {})  # PEP 691 says MUST be present; absent = none
    if not isinstance(raw_hashes, dict):
        raise _Refused("invalid 'hashes'")
    hashes = _file_hashes(raw_hashes.items())
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
        raise _Refused("invalid 'yanked'")
    key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
    metadata_raw = entry.get(key)
    metadata: dict[str, str] | None
    if metadata_raw is None or metadata_raw is False:
        metadata = None
    elif metadata_raw is True:
        metadata = {}
    elif isinstance(metadata_raw, dict):
        metadata = _metadata_hashes(metadata_raw.items())
    else:
        raise _Refused(f"invalid {key!r}")
    size = _optional(entry, "size", int)
    if size is not None and size < 0:
        raise _Refused("invalid 'size'")
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


# -- PEP 503 HTML -----------------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Collects ``<a>`` attributes, the first ``<base href>`` and PEP 629 meta versions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []
        self.versions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("a", "base", "meta"):
            return
        attributes: dict[str, str | None] = {}
        for key, value in attrs:
            attributes.setdefault(key, value)  # the first of duplicate attributes wins (HTML)
        if tag == "a":
            if len(self.anchors) >= MAX_FILES:
                raise _TooManyLinks
            self.anchors.append(attributes)
        elif tag == "base":
            if self.base is None and attributes.get("href"):
                self.base = attributes["href"]
        elif attributes.get("name") == "pypi:repository-version":
            self.versions.append(attributes.get("content") or "")


def parse_html_page(body: bytes | str, page_url: str, project: str) -> ProjectPage:
    """Parse a PEP 503 HTML project page (``text/html`` or PEP 691's HTML v1).

    Bytes are decoded as UTF-8 (undecodable bytes replaced).  Raises :class:`IntegrityError`
    when the page is too large, has too many links, has an unusable ``<base href>``, or
    declares an API major version other than 1.
    """
    expected = canonicalize_name(project)
    where = redact(page_url)
    _check_size(body, where)
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except _TooManyLinks:
        raise _too_many(where) from None
    except Exception as exc:  # html.parser is lenient, but hostile input must stay contained
        raise IntegrityError(
            f"project page {where} is not parseable HTML ({type(exc).__name__})",
            hint="the index must serve a PEP 503 page",
        ) from None
    for version in parser.versions:
        _check_api_version(version, where)
    base = page_url
    if parser.base is not None:
        try:
            base = urljoin(page_url, parser.base.strip())
            _ = urlsplit(base).port
        except ValueError:
            raise IntegrityError(
                f"project page {where} has an invalid <base href>",
                hint="refused as hostile or broken",
            ) from None
    collected = _Collector()
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        try:
            url, fragment, filename = _resolve(base, href)
        except _Refused as refused:
            collected.refuse(redact(href.strip()), refused.reason)
            continue
        try:
            collected.accept(_html_link(anchor, url, fragment, filename, expected))
        except _Refused as refused:
            collected.refuse(filename or redact(url), refused.reason)
    api_version = parser.versions[0] if parser.versions else None
    return collected.page(expected, page_url, api_version)


def _html_link(
    anchor: Mapping[str, str | None],
    url: str,
    fragment: str,
    filename: str,
    project: NormalizedName,
) -> FileLink:
    _check_filename(filename, project)
    hashes = _file_hashes(_fragment_pairs(fragment))
    yanked = (anchor["data-yanked"] or "") if "data-yanked" in anchor else None
    if "data-core-metadata" in anchor:
        metadata = _html_metadata(anchor["data-core-metadata"])
    elif "data-dist-info-metadata" in anchor:
        metadata = _html_metadata(anchor["data-dist-info-metadata"])
    else:
        metadata = None
    return FileLink(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=anchor.get("data-requires-python") or None,
        yanked=yanked,
        metadata=metadata,
    )


def _html_metadata(value: str | None) -> dict[str, str] | None:
    """PEP 658/714 attribute value: ``true``, ``<hashname>=<hex>``, or anything else (not offered).

    A valueless or empty attribute is read as ``true``.
    """
    text = (value or "").strip()
    if text.lower() in ("", "true"):
        return {}
    algorithm, sep, digest = text.partition("=")
    if not sep:
        return None
    return _metadata_hashes([(algorithm, digest)])  # one pair: cannot conflict


# -- content negotiation (PEP 691) ------------------------------------------------------------


def parse_project_page(
    body: bytes | str, content_type: str, page_url: str, project: str
) -> ProjectPage:
    """Parse a project page according to its response ``Content-Type`` (PEP 691).

    JSON v1 goes to :func:`parse_json_page`; HTML v1 and ``text/html`` to
    :func:`parse_html_page`; any other type raises :class:`IntegrityError`.
    """
    kind = content_type.partition(";")[0].strip().lower()
    if kind == JSON_V1:
        return parse_json_page(body, page_url, project)
    if kind in (HTML_V1, "text/html"):
        return parse_html_page(body, page_url, project)
    raise IntegrityError(
        f"project page {redact(page_url)} has unsupported content type {_shown(repr(kind))}",
        hint="the index must speak the Simple Repository API (PEP 503 HTML or PEP 691 JSON v1)",
    )
