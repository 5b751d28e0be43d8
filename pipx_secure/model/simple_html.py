"""PEP 503 HTML project pages (``text/html`` and PEP 691's HTML v1), parsed purely."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import IntegrityError
from pipx_secure.model import simple_links as links
from pipx_secure.model.redact import redact
from pipx_secure.model.simple_links import (
    Collector,
    FileLink,
    ProjectPage,
    Refused,
    TooManyLinks,
    check_api_version,
    check_filename,
    check_size,
    file_hashes,
    fragment_pairs,
    metadata_hashes,
    resolve_link,
    too_many,
)


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
            if len(self.anchors) >= links.MAX_FILES:
                raise TooManyLinks
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
    check_size(body, where)
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    parser = _PageParser()
    try:
        parser.feed(text)
        parser.close()
    except TooManyLinks:
        raise too_many(where) from None
    except Exception as exc:  # html.parser is lenient, but hostile input must stay contained
        raise IntegrityError(
            f"project page {where} is not parseable HTML ({type(exc).__name__})",
            hint="the index must serve a PEP 503 page",
        ) from None
    for version in parser.versions:
        check_api_version(version, where)
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
    collected = Collector()
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        try:
            url, fragment, filename = resolve_link(base, href)
        except Refused as refused:
            collected.refuse(redact(href.strip()), refused.reason)
            continue
        try:
            collected.accept(_html_link(anchor, url, fragment, filename, expected))
        except Refused as refused:
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
    check_filename(filename, project)
    hashes = file_hashes(fragment_pairs(fragment))
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
    return metadata_hashes([(algorithm, digest)])  # one pair: cannot conflict
