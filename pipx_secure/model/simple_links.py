"""Values and checks shared by the Simple Repository API parsers (see ``simple_api``).

Wire data is hostile: a single bad link is kept in :attr:`ProjectPage.rejected` with a
printable reason; a page whose structure is wrong raises
:class:`~pipx_secure.errors.IntegrityError` naming the page URL (redacted).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.utils import NormalizedName

from pipx_secure.errors import IntegrityError
from pipx_secure.model.filenames import parse_filename, shown

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


class Refused(Exception):
    """A link is refused; ``reason`` says why (internal control flow only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyLinks(Exception):
    """Raised by the HTML parser once a page has more than MAX_FILES links."""


# -- checks shared by both page forms -----------------------------------------------------


def check_size(body: bytes | str, where: str) -> None:
    size = len(body)
    if isinstance(body, str) and size <= MAX_PAGE_BYTES < size * 4:
        size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_PAGE_BYTES:
        raise IntegrityError(
            f"project page {where} is larger than {MAX_PAGE_BYTES // (1024 * 1024)} MiB",
            hint="refused as hostile or broken; check the index",
        )


def too_many(where: str) -> IntegrityError:
    return IntegrityError(
        f"project page {where} lists more than {MAX_FILES} files",
        hint="refused as hostile or broken; check the index",
    )


def check_api_version(version: str, where: str) -> None:
    major = version.strip().partition(".")[0]
    if not (major.isascii() and major.isdigit()):
        raise IntegrityError(
            f"project page {where} declares an invalid repository version {shown(repr(version))}",
            hint="PEP 629 versions look like '1.0'",
        )
    if int(major) != SUPPORTED_API_MAJOR:
        raise IntegrityError(
            f"project page {where} uses repository API version {shown(version)}",
            hint=f"spip speaks version {SUPPORTED_API_MAJOR}.x of the Simple Repository API",
        )


def unsafe_filename(filename: str) -> bool:
    if not filename or "/" in filename or "\\" in filename or ".." in filename:
        return True
    if _ASCII_CONTROL.search(filename):
        return True
    return not filename.isascii() and any(
        unicodedata.category(c) in _UNSAFE_CATEGORIES for c in filename
    )


def resolve_link(base: str, href: str) -> tuple[str, str, str]:
    """(absolute URL without fragment, fragment, decoded last path segment) of a link."""
    try:
        parts = urlsplit(urljoin(base, href.strip()))
        _ = parts.port  # raises ValueError for an invalid port
    except ValueError:
        raise Refused("invalid URL") from None
    if parts.scheme not in _SCHEMES:
        raise Refused(f"URL scheme {shown(parts.scheme) or 'none'!r} refused")
    if not parts.hostname:
        raise Refused("URL has no host")
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return url, parts.fragment, unquote(parts.path.rpartition("/")[2])


def check_filename(filename: str, project: NormalizedName) -> None:
    if unsafe_filename(filename):
        raise Refused("unsafe file name")
    if not filename.endswith(_DIST_SUFFIXES):
        raise Refused("unsupported file type")
    try:
        dist = parse_filename(filename)
    except IntegrityError:
        raise Refused("invalid distribution file name") from None
    if dist.name != project:
        raise Refused(f"file belongs to project {dist.name}")


def clean_hashes(pairs: Iterable[tuple[object, object]]) -> tuple[dict[str, str], bool]:
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
            raise Refused(f"conflicting {name} hashes")
    return dict(sorted(found.items())), malformed


def file_hashes(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    hashes, malformed = clean_hashes(pairs)
    if malformed and not hashes:
        raise Refused("malformed hash")
    return hashes


def metadata_hashes(pairs: Iterable[tuple[object, object]]) -> dict[str, str] | None:
    """A PEP 658 hash set; None (treat as not offered) when its only hashes are malformed."""
    hashes, malformed = clean_hashes(pairs)
    if malformed and not hashes:
        return None
    return hashes


def fragment_pairs(fragment: str) -> list[tuple[object, object]]:
    pairs: list[tuple[object, object]] = []
    for part in fragment.split("&"):
        key, sep, value = part.partition("=")
        if sep:
            pairs.append((key, value))
    return pairs


class Collector:
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
        self.rejected.append((shown(_USERINFO.sub(r"\1:****@", what)), reason))

    def page(self, name: NormalizedName, url: str, api_version: str | None) -> ProjectPage:
        return ProjectPage(name, url, tuple(self.files), tuple(self.rejected), api_version)
