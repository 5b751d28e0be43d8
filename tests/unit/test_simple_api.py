"""Simple Repository API parsers (PEP 503 HTML, PEP 691 JSON; 592, 658/714, 700)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipx_secure.errors import IntegrityError
from pipx_secure.simple_api import (
    ACCEPT_HEADER,
    parse_filename,
    parse_html_page,
    parse_json_page,
    parse_project_page,
)

PAGE = "https://idx.example/simple/acme-core/"
H = "ab" * 32


def test_accept_header_prefers_json() -> None:
    assert ACCEPT_HEADER.startswith("application/vnd.pypi.simple.v1+json")


def test_html_page_with_every_attribute() -> None:
    html = f"""<html><head><meta name="pypi:repository-version" content="1.1"></head><body>
    <a href="../../files/acme_core-1.0.0-py3-none-any.whl#sha256={H}"
       data-requires-python="&gt;=3.8" data-core-metadata="sha256={H}">x</a>
    <a href="/files/acme_core-1.1.0.tar.gz#sha256={H}" data-yanked="">y</a>
    <a href="https://cdn.example/acme_core-0.9.0-py3-none-any.whl#sha256={H}"
       data-yanked="broken build" data-dist-info-metadata="true">z</a>
    </body></html>"""
    page = parse_html_page(html, PAGE, "ACME_Core")
    assert page.name == "acme-core" and page.api_version == "1.1"
    first, second, third = page.files
    assert first.url == "https://idx.example/files/acme_core-1.0.0-py3-none-any.whl"
    assert first.requires_python == ">=3.8" and first.hashes == {"sha256": H}
    assert first.metadata == {"sha256": H} and first.yanked is None
    assert first.metadata_url.endswith(".whl.metadata")
    assert second.is_sdist and second.yanked == ""
    assert third.yanked == "broken build" and third.metadata == {}


def test_base_href_is_honoured() -> None:
    html = (
        '<base href="https://mirror.example/pkgs/">'
        f'<a href="acme_core-1.0.0.tar.gz#sha256={H}">a</a>'
    )
    (link,) = parse_html_page(html, PAGE, "acme-core").files
    assert link.url == "https://mirror.example/pkgs/acme_core-1.0.0.tar.gz"


@pytest.mark.parametrize(
    ("href", "reason"),
    [
        ("file:///etc/acme_core-1.0.0.tar.gz", "scheme"),
        ("data:text/plain,acme_core-1.0.0.tar.gz", "scheme"),
        ("https://x.example/other_pkg-1.0.0.tar.gz", "belongs to project other-pkg"),
        ("https://x.example/acme_core-1.0.0.exe", "unsupported file type"),
        ("https://x.example/acme_core-1.0.0.tar.gz#sha256=nothex", "malformed hash"),
        ("https://x.example/..%2Facme_core-1.0.0.tar.gz", "unsafe file name"),
    ],
)
def test_hostile_links_are_refused_with_a_reason(href: str, reason: str) -> None:
    page = parse_html_page(f'<a href="{href}">x</a>', PAGE, "acme-core")
    assert page.files == ()
    assert len(page.rejected) == 1 and reason in page.rejected[0][1]


def json_page(**overrides: object) -> str:
    data = {
        "meta": {"api-version": "1.1"},
        "name": "acme-core",
        "files": [
            {
                "filename": "acme_core-1.0.0-py3-none-any.whl",
                "url": "../../files/acme_core-1.0.0-py3-none-any.whl",
                "hashes": {"sha256": H, "md5": "00"},
                "requires-python": ">=3.8",
                "core-metadata": {"sha256": H},
                "yanked": False,
                "size": 1234,
                "upload-time": "2025-01-01T00:00:00.000000Z",
            },
            {
                "filename": "acme_core-0.9.tar.gz",
                "url": "https://x.example/acme_core-0.9.tar.gz",
                "hashes": {"sha256": H},
                "yanked": "bad",
            },
        ],
    }
    data.update(overrides)
    return json.dumps(data)


def test_json_page() -> None:
    page = parse_json_page(json_page(), PAGE, "acme-core")
    first, second = page.files
    assert first.url == "https://idx.example/files/acme_core-1.0.0-py3-none-any.whl"
    assert first.hashes == {"sha256": H} and first.size == 1234
    assert first.metadata == {"sha256": H} and first.upload_time.startswith("2025")
    assert second.yanked == "bad"


def test_json_page_for_another_project_is_refused() -> None:
    with pytest.raises(IntegrityError) as info:
        parse_json_page(json_page(name="evil"), PAGE, "acme-core")
    assert "evil" in info.value.render()


def test_unsupported_api_version_is_refused() -> None:
    with pytest.raises(IntegrityError):
        parse_json_page(json_page(meta={"api-version": "2.0"}), PAGE, "acme-core")


def test_json_filename_must_match_url() -> None:
    body = json_page(
        files=[
            {
                "filename": "acme_core-1.0.0.tar.gz",
                "url": "https://x.example/acme_core-6.6.6.tar.gz",
                "hashes": {"sha256": H},
            }
        ]
    )
    page = parse_json_page(body, PAGE, "acme-core")
    assert page.files == () and "file name" in page.rejected[0][1]


def test_content_type_dispatch() -> None:
    page = parse_project_page(json_page(), "application/vnd.pypi.simple.v1+json", PAGE, "acme-core")
    assert len(page.files) == 2
    with pytest.raises(IntegrityError):
        parse_project_page("x", "application/octet-stream", PAGE, "acme-core")


def test_credentials_in_page_url_never_appear_in_errors() -> None:
    with pytest.raises(IntegrityError) as info:
        parse_json_page("{not json", "https://u:s3cret-pw@idx.example/simple/x/", "x")
    assert "s3cret-pw" not in info.value.render()


def test_parse_filename() -> None:
    wheel = parse_filename("Acme_Core-1.0.0-py3-none-any.whl")
    assert wheel.name == "acme-core" and str(wheel.version) == "1.0.0" and wheel.tags
    sdist = parse_filename("acme_core-2.0.tar.gz")
    assert sdist.tags is None
    with pytest.raises(IntegrityError):
        parse_filename("acme_core.exe")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_html_gives_a_page_or_a_spip_error(text: str) -> None:
    with contextlib.suppress(IntegrityError):
        parse_html_page(text, PAGE, "acme-core")


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
            max_leaves=20,
        ).map(json.dumps),
    )
)
def test_arbitrary_json_gives_a_page_or_a_spip_error(text: str) -> None:
    with contextlib.suppress(IntegrityError):
        parse_json_page(text, PAGE, "acme-core")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_filenames(text: str) -> None:
    with contextlib.suppress(IntegrityError):
        parse_filename(text)
