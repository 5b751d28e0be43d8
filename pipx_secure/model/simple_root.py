"""The Simple API root page: the names of every project an index serves (PEP 503, PEP 691).

Pure.  HTML: one ``<a>`` per project, its text the name; JSON (``projects[].name``).  Names are
PEP 503-normalized; anything else on the page is ignored.  Pages larger than the project page
limit are refused like project pages.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import IntegrityError
from pipx_secure.model import simple_links
from pipx_secure.model.simple_links import JSON_V1

_MAX_NAMES = 1_000_000


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "a"

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside and data.strip() and len(self.names) < _MAX_NAMES:
            self.names.append(data.strip())


def parse_root_page(body: bytes, content_type: str, where: str) -> tuple[NormalizedName, ...]:
    """The normalized project names a root page lists, in page order without duplicates."""
    if len(body) > simple_links.MAX_PAGE_BYTES:
        raise IntegrityError(f"the project list of {where} is too large")
    kind = content_type.partition(";")[0].strip().lower()
    names: list[str] = []
    if kind == JSON_V1:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise IntegrityError(f"the project list of {where} is not valid JSON") from None
        projects = data.get("projects") if isinstance(data, dict) else None
        for project in projects if isinstance(projects, list) else []:
            if isinstance(project, dict) and isinstance(project.get("name"), str):
                names.append(project["name"])
    else:
        parser = _Anchors()
        try:
            parser.feed(body.decode("utf-8", errors="replace"))
            parser.close()
        except Exception:  # html.parser is lenient; hostile input stays contained
            raise IntegrityError(f"the project list of {where} is not parseable") from None
        names = parser.names
    return tuple(dict.fromkeys(canonicalize_name(n) for n in names if n))
