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

from pipx_secure.errors import IntegrityError
from pipx_secure.model.filenames import Distribution, parse_filename, shown
from pipx_secure.model.redact import redact
from pipx_secure.model.simple_html import parse_html_page
from pipx_secure.model.simple_json import parse_json_page
from pipx_secure.model.simple_links import (
    ACCEPT_HEADER,
    HTML_V1,
    JSON_V1,
    MAX_FILES,
    MAX_PAGE_BYTES,
    SUPPORTED_API_MAJOR,
    FileLink,
    ProjectPage,
)

__all__ = [
    "ACCEPT_HEADER",
    "HTML_V1",
    "JSON_V1",
    "MAX_FILES",
    "MAX_PAGE_BYTES",
    "SUPPORTED_API_MAJOR",
    "Distribution",
    "FileLink",
    "ProjectPage",
    "parse_filename",
    "parse_html_page",
    "parse_json_page",
    "parse_project_page",
]


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
        f"project page {redact(page_url)} has unsupported content type {shown(repr(kind))}",
        hint="the index must speak the Simple Repository API (PEP 503 HTML or PEP 691 JSON v1)",
    )
