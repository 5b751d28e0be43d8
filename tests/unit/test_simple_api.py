"""Simple Repository API parsers: PEP 503 HTML, PEP 691 JSON; PEP 592, 629, 658/714, 700."""

from __future__ import annotations

import html
import json
from typing import Any, Callable, Union
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.tags import Tag

from pipx_secure.errors import IntegrityError
from pipx_secure.model import simple_api, simple_links
from pipx_secure.model.simple_api import (
    ACCEPT_HEADER,
    FileLink,
    ProjectPage,
    parse_filename,
    parse_html_page,
    parse_json_page,
    parse_project_page,
)

PAGE = "https://idx.example/simple/acme-core/"
SECRET = "pw-7f3a9c"
SECRET_PAGE = f"https://ci:{SECRET}@idx.example/simple/acme-core/"
H256 = "ab" * 32
H384 = "cd" * 48
H512 = "ef" * 64
WHEEL = "acme_core-1.0.0-py3-none-any.whl"
SDIST = "acme_core-1.0.0.tar.gz"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def anchors(*links: str, head: str = "") -> str:
    body = "\n".join(links)
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def one_html(attrs: str) -> ProjectPage:
    return parse_html_page(anchors(f"<a {attrs}>x</a>"), PAGE, "acme-core")


def json_entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": WHEEL,
        "url": f"https://files.example/{WHEEL}",
        "hashes": {"sha256": H256},
    }
    for key, value in fields.items():
        entry[key.replace("_", "-")] = value
    return entry


def json_body(*entries: Any, **top: Any) -> str:
    data: dict[str, Any] = {"meta": {"api-version": "1.1"}, "name": "acme-core"}
    data["files"] = list(entries)
    data.update(top)
    return json.dumps(data)


def one_json(entry: Any) -> ProjectPage:
    return parse_json_page(json_body(entry), PAGE, "acme-core")


# -- content negotiation ----------------------------------------------------------------------


def test_accept_header_prefers_json_then_html_then_legacy() -> None:
    ranges = [part.strip() for part in ACCEPT_HEADER.split(",")]
    types = [r.split(";")[0] for r in ranges]
    assert types == [
        "application/vnd.pypi.simple.v1+json",
        "application/vnd.pypi.simple.v1+html",
        "text/html",
    ]
    q = [float(r.split("q=")[1]) if "q=" in r else 1.0 for r in ranges]
    assert q[0] > q[1] > q[2] > 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (JSON_TYPE, json_body(json_entry())),
        ("Application/VND.pypi.simple.v1+JSON; charset=utf-8", json_body(json_entry())),
        ("application/vnd.pypi.simple.v1+html", anchors(f'<a href="/f/{WHEEL}">w</a>')),
        ("text/html; charset=utf-8", anchors(f'<a href="/f/{WHEEL}">w</a>')),
    ],
)
def test_content_type_dispatch(content_type: str, body: str) -> None:
    page = parse_project_page(body, content_type, PAGE, "acme-core")
    assert [f.filename for f in page.files] == [WHEEL]


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "application/vnd.pypi.simple.latest+json", "", "text/plain"],
)
def test_other_content_types_are_refused(content_type: str) -> None:
    with pytest.raises(IntegrityError) as info:
        parse_project_page(json_body(), content_type, SECRET_PAGE, "acme-core")
    assert "content type" in info.value.message
    assert SECRET not in info.value.render()


# -- file names -------------------------------------------------------------------------------


def test_parse_wheel_filename() -> None:
    dist = parse_filename("Acme_Core-1.0.0-7b-py2.py3-none-any.whl")
    assert dist.name == "acme-core"
    assert str(dist.version) == "1.0.0"
    assert dist.build == (7, "b")
    assert dist.tags == frozenset({Tag("py2", "none", "any"), Tag("py3", "none", "any")})


@pytest.mark.parametrize("filename", ["acme_core-2.0.tar.gz", "Acme.Core-2.0.zip"])
def test_parse_sdist_filename(filename: str) -> None:
    dist = parse_filename(filename)
    assert (dist.name, str(dist.version), dist.tags, dist.build) == ("acme-core", "2.0", None, ())


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("acme_core-1.0.exe", "unsupported file type"),
        ("acme_core-1.0.egg", "unsupported file type"),
        ("acme_core-1.0.tar.bz2", "unsupported file type"),
        ("acme_core-not.a.version.tar.gz", "invalid distribution file name"),
        ("acme_core-1.0-py3-none.whl", "invalid distribution file name"),
        ("", "unsupported file type"),
    ],
)
def test_parse_filename_refuses(filename: str, message: str) -> None:
    with pytest.raises(IntegrityError) as info:
        parse_filename(filename)
    assert message in info.value.message


def test_parse_filename_error_escapes_control_characters() -> None:
    with pytest.raises(IntegrityError) as info:
        parse_filename("acme\x1b[31m-x.exe")
    assert "\x1b" not in info.value.render()


# -- HTML (PEP 503) ---------------------------------------------------------------------------


def test_html_page_with_every_attribute() -> None:
    body = anchors(
        f'<a href="../../files/{WHEEL}#sha256={H256}" data-requires-python="&gt;=3.8,&lt;4"'
        f' data-core-metadata="sha256={H256}">w</a>',
        f'<a href="/files/{SDIST}#sha512={H512}" data-yanked="">s</a>',
        f'<a href="https://cdn.example/acme_core-0.9.0-py3-none-any.whl#SHA384={H384.upper()}"'
        ' data-yanked="broken &amp; bad" data-dist-info-metadata="true">old</a>',
        head='<meta name="pypi:repository-version" content="1.1">',
    )
    page = parse_html_page(body.encode(), PAGE, "ACME_Core")
    assert page.name == "acme-core" and page.url == PAGE and page.api_version == "1.1"
    assert page.rejected == ()
    wheel, sdist, old = page.files
    assert wheel == FileLink(
        filename=WHEEL,
        url=f"https://idx.example/files/{WHEEL}",
        hashes={"sha256": H256},
        requires_python=">=3.8,<4",
        yanked=None,
        metadata={"sha256": H256},
    )
    assert wheel.metadata_url == f"https://idx.example/files/{WHEEL}.metadata"
    assert wheel.is_wheel and not wheel.is_sdist
    assert sdist.url == f"https://idx.example/files/{SDIST}" and sdist.hashes == {"sha512": H512}
    assert sdist.yanked == "" and sdist.metadata is None and sdist.requires_python is None
    assert sdist.is_sdist and not sdist.is_wheel
    assert old.hashes == {"sha384": H384} and old.yanked == "broken & bad"
    assert old.metadata == {} and old.size is None and old.upload_time is None


def test_relative_hrefs_resolve_against_the_page() -> None:
    body = anchors(
        f'<a href="{WHEEL}">a</a>',
        f'<a href="./sub/{SDIST}">b</a>',
        '<a href="//other.example/p/acme_core-2.0.zip">c</a>',
        '<a href="  /x/acme_core-3.0.tar.gz  ">d</a>',
    )
    urls = [f.url for f in parse_html_page(body, PAGE, "acme-core").files]
    assert urls == [
        f"https://idx.example/simple/acme-core/{WHEEL}",
        f"https://idx.example/simple/acme-core/sub/{SDIST}",
        "https://other.example/p/acme_core-2.0.zip",
        "https://idx.example/x/acme_core-3.0.tar.gz",
    ]


def test_percent_encoded_file_names_are_decoded() -> None:
    page = one_html('href="/f/acme_core-1.0%2Blocal.tar.gz"')
    (link,) = page.files
    assert link.filename == "acme_core-1.0+local.tar.gz"
    assert link.url == "https://idx.example/f/acme_core-1.0%2Blocal.tar.gz"


def test_query_is_kept_but_not_part_of_the_file_name() -> None:
    (link,) = one_html(f'href="/f/{SDIST}?sig=1#sha256={H256}"').files
    assert link.url == f"https://idx.example/f/{SDIST}?sig=1" and link.filename == SDIST
    assert link.hashes == {"sha256": H256}


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://mirror.example/pkgs/", f"https://mirror.example/pkgs/{SDIST}"),
        ("/mirror/acme/", f"https://idx.example/mirror/acme/{SDIST}"),
        ("../../other/", f"https://idx.example/other/{SDIST}"),
    ],
)
def test_base_href_is_honoured(base: str, expected: str) -> None:
    body = anchors(f'<a href="{SDIST}">a</a>', head=f'<base href="{base}">')
    (link,) = parse_html_page(body, PAGE, "acme-core").files
    assert link.url == expected


def test_only_the_first_base_href_counts() -> None:
    body = (
        '<base href="https://one.example/">'
        '<base href="https://two.example/">'
        f'<a href="{SDIST}">a</a>'
    )
    assert parse_html_page(body, PAGE, "acme-core").files[0].url == f"https://one.example/{SDIST}"


def test_base_href_with_a_refused_scheme_refuses_relative_links() -> None:
    body = anchors(f'<a href="{SDIST}">a</a>', head='<base href="file:///srv/">')
    page = parse_html_page(body, PAGE, "acme-core")
    assert page.files == () and "scheme 'file'" in page.rejected[0][1]


def test_invalid_base_href_is_an_integrity_error() -> None:
    body = anchors(f'<a href="{SDIST}">a</a>', head='<base href="http://[">')
    with pytest.raises(IntegrityError) as info:
        parse_html_page(body, SECRET_PAGE, "acme-core")
    assert "<base href>" in info.value.message and SECRET not in info.value.render()


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (f'data-core-metadata="sha256={H256}"', {"sha256": H256}),
        (f'data-dist-info-metadata="sha256={H256}"', {"sha256": H256}),
        ('data-core-metadata="true"', {}),
        ('data-dist-info-metadata="true"', {}),
        ("data-core-metadata", {}),
        (f'data-core-metadata="SHA512={H512.upper()}"', {"sha512": H512}),
        ('data-core-metadata="sha256=nothex"', None),
        ('data-core-metadata="false"', None),
        ('data-core-metadata="blake3=00"', {}),
        ("", None),
        # PEP 714: data-core-metadata wins over the older name, whatever their order.
        (f'data-dist-info-metadata="true" data-core-metadata="sha256={H256}"', {"sha256": H256}),
        (f'data-core-metadata="sha256={H256}" data-dist-info-metadata="true"', {"sha256": H256}),
        ('data-core-metadata="false" data-dist-info-metadata="true"', None),
    ],
)
def test_html_core_metadata_pep_658_714(attrs: str, expected: dict[str, str] | None) -> None:
    (link,) = one_html(f'href="/f/{WHEEL}" {attrs}').files
    assert link.metadata == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ("", None),
        ("data-yanked", ""),
        ('data-yanked=""', ""),
        ('data-yanked="security issue"', "security issue"),
        ('data-yanked="use &lt;2 instead"', "use <2 instead"),
    ],
)
def test_html_yanked_forms(attrs: str, expected: str | None) -> None:
    (link,) = one_html(f'href="/f/{WHEEL}" {attrs}').files
    assert link.yanked == expected


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ('data-requires-python="&gt;=3.8"', ">=3.8"),
        ('data-requires-python="&gt;=3.8,!=3.9.*,&lt;4"', ">=3.8,!=3.9.*,<4"),
        ('data-requires-python="&#62;=3.9"', ">=3.9"),
        ('data-requires-python=""', None),
        ("", None),
    ],
)
def test_html_requires_python_is_unescaped(attr: str, expected: str | None) -> None:
    (link,) = one_html(f'href="/f/{WHEEL}" {attr}').files
    assert link.requires_python == expected


def test_html_entities_in_href_are_unescaped() -> None:
    (link,) = one_html(f'href="/f/{SDIST}?a=1&amp;b=2#sha256={H256}"').files
    assert link.url == f"https://idx.example/f/{SDIST}?a=1&b=2"


def test_first_of_duplicate_attributes_wins() -> None:
    (link,) = one_html(f'href="/f/{SDIST}" href="https://evil.example/{SDIST}"').files
    assert link.url == f"https://idx.example/f/{SDIST}"


def test_anchors_without_href_are_ignored() -> None:
    page = parse_html_page(anchors('<a name="top">t</a>', '<a href="">e</a>'), PAGE, "acme-core")
    assert page.files == () and page.rejected == ()


def test_html_bytes_with_bom_and_bad_utf8() -> None:
    body = b"\xef\xbb\xbf<a href='/f/" + SDIST.encode() + b"'>\xff\xfe</a>"
    (link,) = parse_html_page(body, PAGE, "acme-core").files
    assert link.filename == SDIST


@pytest.mark.parametrize(
    ("href", "shown", "reason"),
    [
        (f"file:///etc/{SDIST}", f"file:///etc/{SDIST}", "URL scheme 'file' refused"),
        (f"data:text/plain,{SDIST}", f"data:text/plain,{SDIST}", "URL scheme 'data' refused"),
        ("javascript:alert(1)", "javascript:alert(1)", "URL scheme 'javascript' refused"),
        ("JavaScript:alert(1)", "javascript:alert(1)", "URL scheme 'javascript' refused"),
        ("java&#10;script:alert(1)", "javascript:alert(1)", "URL scheme 'javascript' refused"),
        (f"ftp://ftp.example/{SDIST}", f"ftp://ftp.example/{SDIST}", "URL scheme 'ftp' refused"),
        (f"http:///{SDIST}", f"http:///{SDIST}", "URL has no host"),
        (f"https://@:443/{SDIST}", f"https://****@:443/{SDIST}", "URL has no host"),
        (f"http://[::1/{SDIST}", "<unparseable URL>", "invalid URL"),
        (f"https://h.example:99999/{SDIST}", "", "invalid URL"),
        ("https://x.example/other_pkg-1.0.0.tar.gz", "other_pkg-1.0.0.tar.gz", "belongs to"),
        ("https://x.example/acme_core-1.0.0.exe", "acme_core-1.0.0.exe", "unsupported file type"),
        ("https://x.example/acme_core-1.0-py3.6.egg", "", "unsupported file type"),
        ("https://x.example/acme_core.tar.gz", "acme_core.tar.gz", "invalid distribution"),
        (f"https://x.example/{SDIST}#sha256=nothex", SDIST, "malformed hash"),
        (f"https://x.example/{SDIST}#sha256={H256[:-2]}", SDIST, "malformed hash"),
        (f"https://x.example/{SDIST}#sha512={H256}", SDIST, "malformed hash"),
        (f"https://x.example/..%2F{SDIST}", f"../{SDIST}", "unsafe file name"),
        (f"https://x.example/..%5C{SDIST}", f"..\\{SDIST}", "unsafe file name"),
        (f"https://x.example/a%5C{SDIST}", f"a\\{SDIST}", "unsafe file name"),
        ("https://x.example/acme_core-1.0%00.tar.gz", "acme_core-1.0\\x00.tar.gz", "unsafe"),
        ("https://x.example/acme_core-1.0%0A.tar.gz", "acme_core-1.0\\n.tar.gz", "unsafe"),
        ("https://x.example/acme_core-1.0%1B.tar.gz", "acme_core-1.0\\x1b.tar.gz", "unsafe"),
        ("https://x.example/acme_core-1.0%E2%80%AE.tar.gz", "", "unsafe file name"),
        ("https://x.example/", "https://x.example/", "unsafe file name"),
    ],
)
def test_hostile_html_links_are_refused_with_a_reason(href: str, shown: str, reason: str) -> None:
    page = one_html(f'href="{href}"')
    assert page.files == ()
    assert len(page.rejected) == 1
    what, why = page.rejected[0]
    assert reason in why
    if shown:
        assert what == shown
    assert what.isprintable()


def test_refused_hrefs_are_shown_without_credentials() -> None:
    page = one_html(f'href="ftp://bob:{SECRET}@ftp.example/{SDIST}"')
    ((what, _reason),) = page.rejected
    assert SECRET not in what and "ftp.example" in what


def test_rejected_names_are_capped_in_length() -> None:
    page = one_html(f'href="javascript:{"x" * 5000}"')
    assert len(page.rejected[0][0]) < 300


def test_one_bad_hash_is_dropped_when_a_good_one_remains() -> None:
    (link,) = one_html(f'href="/f/{SDIST}#sha256=zz&amp;sha512={H512}"').files
    assert link.hashes == {"sha512": H512}


@pytest.mark.parametrize("fragment", ["", "#egg=acme_core", "#blake3=00ff", "#md5"])
def test_links_without_usable_hash_are_kept_hashless(fragment: str) -> None:
    (link,) = one_html(f'href="/f/{SDIST}{fragment}"').files
    assert link.hashes == {}


def test_md5_fragment_is_kept_when_well_formed() -> None:
    (link,) = one_html(f'href="/f/{SDIST}#md5={"0A" * 16}"').files
    assert link.hashes == {"md5": "0a" * 16}


def test_duplicate_file_names_keep_the_first() -> None:
    body = anchors(
        f'<a href="/one/{SDIST}#sha256={H256}">a</a>',
        f'<a href="/two/{SDIST}#sha256={"00" * 32}">b</a>',
    )
    page = parse_html_page(body, PAGE, "acme-core")
    assert [f.url for f in page.files] == [f"https://idx.example/one/{SDIST}"]
    assert page.rejected == ((SDIST, "duplicate file name"),)


def test_files_and_rejections_keep_page_order() -> None:
    body = anchors(
        '<a href="/f/acme_core-3.0.tar.gz">3</a>',
        '<a href="file:///x/acme_core-9.tar.gz">bad</a>',
        '<a href="/f/acme_core-1.0.tar.gz">1</a>',
        '<a href="/f/acme_core-2.0.tar.gz">2</a>',
        '<a href="/f/readme.txt">r</a>',
    )
    page = parse_html_page(body, PAGE, "acme-core")
    assert [f.filename for f in page.files] == [
        "acme_core-3.0.tar.gz",
        "acme_core-1.0.tar.gz",
        "acme_core-2.0.tar.gz",
    ]
    assert [r[0] for r in page.rejected] == ["file:///x/acme_core-9.tar.gz", "readme.txt"]


@pytest.mark.parametrize(
    ("content", "ok"),
    [("1.0", True), ("1", True), ("1.99", True), ("2.0", False), ("0.9", False), ("x", False)],
)
def test_html_repository_version(content: str, ok: bool) -> None:
    body = anchors(head=f'<meta name="pypi:repository-version" content="{content}">')
    if ok:
        assert parse_html_page(body, PAGE, "acme-core").api_version == content
    else:
        with pytest.raises(IntegrityError) as info:
            parse_html_page(body, SECRET_PAGE, "acme-core")
        assert "version" in info.value.message and SECRET not in info.value.render()
        assert info.value.hint


def test_html_page_without_version_meta() -> None:
    assert parse_html_page(anchors(), PAGE, "acme-core").api_version is None


# -- JSON (PEP 691) ---------------------------------------------------------------------------


def test_json_page_with_every_field() -> None:
    body = json_body(
        json_entry(
            url=f"../../files/{WHEEL}",
            hashes={"sha256": H256.upper(), "md5": "00", "blake3": "zz"},
            requires_python=">=3.8",
            core_metadata={"sha256": H256},
            yanked=False,
            size=1234,
            upload_time="2025-01-01T00:00:00.000000Z",
        ),
        json_entry(
            filename=SDIST,
            url=f"https://x.example/{SDIST}#sha256={H256}",
            hashes={"sha256": H256, "sha512": H512},
            yanked="bad build",
            dist_info_metadata=True,
        ),
        versions=["1.0.0"],
    )
    page = parse_json_page(body.encode(), PAGE, "Acme.Core")
    assert page.name == "acme-core" and page.api_version == "1.1" and page.rejected == ()
    wheel, sdist = page.files
    assert wheel == FileLink(
        filename=WHEEL,
        url=f"https://idx.example/files/{WHEEL}",
        hashes={"sha256": H256},
        requires_python=">=3.8",
        yanked=None,
        metadata={"sha256": H256},
        size=1234,
        upload_time="2025-01-01T00:00:00.000000Z",
    )
    assert sdist.url == f"https://x.example/{SDIST}"
    assert sdist.hashes == {"sha256": H256, "sha512": H512}
    assert sdist.yanked == "bad build" and sdist.metadata == {}
    assert sdist.size is None and sdist.upload_time is None and sdist.requires_python is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"yanked": None}, None),
        ({"yanked": False}, None),
        ({"yanked": True}, ""),
        ({"yanked": ""}, ""),
        ({"yanked": "broken"}, "broken"),
    ],
)
def test_json_yanked_forms(fields: dict[str, Any], expected: str | None) -> None:
    (link,) = one_json(json_entry(**fields)).files
    assert link.yanked == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"core_metadata": True}, {}),
        ({"core_metadata": False}, None),
        ({"core_metadata": {"sha256": H256}}, {"sha256": H256}),
        ({"dist_info_metadata": {"sha256": H256}}, {"sha256": H256}),
        ({"dist_info_metadata": True}, {}),
        ({"core_metadata": {}}, {}),
        ({"core_metadata": {"sha256": "nothex"}}, None),
        ({"core_metadata": {"sha256": "nothex", "sha512": H512}}, {"sha512": H512}),
        # PEP 714: core-metadata wins, even when it says False.
        ({"core_metadata": False, "dist_info_metadata": True}, None),
        ({"core_metadata": True, "dist_info_metadata": {"sha256": H256}}, {}),
    ],
)
def test_json_core_metadata_pep_658_714(
    fields: dict[str, Any], expected: dict[str, str] | None
) -> None:
    (link,) = one_json(json_entry(**fields)).files
    assert link.metadata == expected


def test_json_requires_python_is_taken_verbatim() -> None:
    (link,) = one_json(json_entry(requires_python="&gt;=3.8")).files
    assert link.requires_python == "&gt;=3.8"  # JSON is not HTML-escaped (PEP 691)


def test_json_hashes_absent_or_unknown_give_no_hash() -> None:
    entry = json_entry(hashes={"blake3": "00"})
    del entry["hashes"]
    assert one_json(entry).files[0].hashes == {}
    assert one_json(json_entry(hashes={"blake3": "00"})).files[0].hashes == {}


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (json_entry(url="https://x.example/acme_core-6.6.6-py3-none-any.whl"), "does not match"),
        (json_entry(url=f"https://x.example/{WHEEL}?x=/../{SDIST}"), None),
        (json_entry(filename="../" + WHEEL, url=f"https://x.example/..%2F{WHEEL}"), "unsafe"),
        (json_entry(filename="a\\" + WHEEL, url=f"https://x.example/a%5C{WHEEL}"), "unsafe"),
        (json_entry(filename=WHEEL + "\x00", url=f"https://x.example/{WHEEL}%00"), "unsafe"),
        (json_entry(url=f"file:///srv/{WHEEL}"), "URL scheme 'file' refused"),
        (json_entry(url=f"javascript:{WHEEL}"), "URL scheme 'javascript' refused"),
        (json_entry(url="http://[/x"), "invalid URL"),
        (
            json_entry(filename="other-1.0.tar.gz", url="https://x.example/other-1.0.tar.gz"),
            "file belongs to project other",
        ),
        (
            json_entry(filename="acme_core-1.0.exe", url="https://x.example/acme_core-1.0.exe"),
            "unsupported file type",
        ),
        (json_entry(hashes={"sha256": "zz"}), "malformed hash"),
        (json_entry(hashes={"sha256": 7}), "malformed hash"),
        (json_entry(hashes={"sha256": H256, "SHA256": "00" * 32}), "conflicting sha256"),
        (json_entry(hashes=[H256]), "invalid 'hashes'"),
        (json_entry(yanked=1), "invalid 'yanked'"),
        (json_entry(yanked=["x"]), "invalid 'yanked'"),
        (json_entry(requires_python=3.8), "invalid 'requires-python'"),
        (json_entry(size="12"), "invalid 'size'"),
        (json_entry(size=True), "invalid 'size'"),
        (json_entry(size=-1), "invalid 'size'"),
        (json_entry(upload_time=0), "invalid 'upload-time'"),
        (json_entry(core_metadata="true"), "invalid 'core-metadata'"),
        (json_entry(dist_info_metadata=1), "invalid 'dist-info-metadata'"),
        ({"url": f"https://x.example/{WHEEL}"}, "missing file name or URL"),
        ({"filename": WHEEL, "url": None}, "missing file name or URL"),
        ("not an object", "file entry is not an object"),
    ],
)
def test_hostile_json_entries_are_refused_with_a_reason(entry: Any, reason: str | None) -> None:
    page = one_json(entry)
    if reason is None:  # a query string is not part of the file name
        assert [f.filename for f in page.files] == [WHEEL]
        return
    assert page.files == ()
    ((what, why),) = page.rejected
    assert reason in why and what.isprintable()


def test_json_rejections_name_the_entry() -> None:
    page = parse_json_page(json_body(json_entry(), 42, json_entry()), PAGE, "acme-core")
    assert page.rejected == (
        ("files[1]", "file entry is not an object"),
        (WHEEL, "duplicate file name"),
    )
    assert len(page.files) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe\x00\x01garbage", "not valid JSON"),
        ("[]", "not a JSON object"),
        ("null", "not a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (json_body(meta=[]), "'meta' is not an object"),
        (json_body(meta={"api-version": 1}), "'meta.api-version' is not a string"),
        (json_body(meta={"api-version": "2.0"}), "repository API version 2.0"),
        (json_body(meta={"api-version": "v1"}), "invalid repository version"),
        (json_body(name=None), "'name' is missing"),
        (json_body(name=["acme-core"]), "'name' is missing"),
        (json_body(name="evil-pkg"), "for project 'evil-pkg', not 'acme-core'"),
        (json.dumps({"meta": {"api-version": "1.0"}, "name": "acme-core"}), "'files' is missing"),
        (json_body(files={"a": 1}), "'files' is missing or not a list"),
    ],
)
def test_malformed_json_pages_are_integrity_errors(body: str | bytes, message: str) -> None:
    with pytest.raises(IntegrityError) as info:
        parse_json_page(body, SECRET_PAGE, "acme-core")
    rendered = info.value.render()
    assert message in info.value.message
    assert "https://ci:****@idx.example/simple/acme-core/" in rendered
    assert SECRET not in rendered and "\n" not in rendered
    assert info.value.hint


def test_json_name_only_needs_to_normalize_to_the_project() -> None:
    page = parse_json_page(json_body(name="ACME__core"), PAGE, "acme.core")
    assert page.name == "acme-core"


@pytest.mark.parametrize("meta", [None, {}, {"api-version": "1.0"}, {"api-version": "1.4"}])
def test_json_api_versions_accepted(meta: dict[str, str] | None) -> None:
    body = json.dumps(
        {"name": "acme-core", "files": [], **({} if meta is None else {"meta": meta})}
    )
    page = parse_json_page(body, PAGE, "acme-core")
    assert page.api_version == (meta or {}).get("api-version")


# -- limits -----------------------------------------------------------------------------------


def test_too_many_json_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simple_links, "MAX_FILES", 3)
    assert len(parse_json_page(json_body(*[json_entry()] * 3), PAGE, "acme-core").rejected) == 2
    with pytest.raises(IntegrityError) as info:
        parse_json_page(json_body(*[json_entry()] * 4), PAGE, "acme-core")
    assert "more than 3 files" in info.value.message


def test_too_many_html_links(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simple_links, "MAX_FILES", 3)
    link = f'<a href="/f/{SDIST}">x</a>'
    assert len(parse_html_page(link * 3, PAGE, "acme-core").files) == 1
    with pytest.raises(IntegrityError) as info:
        parse_html_page(link * 4, PAGE, "acme-core")
    assert "more than 3 files" in info.value.message


@pytest.mark.parametrize("parse", [parse_html_page, parse_json_page])
def test_pages_over_the_byte_limit(
    monkeypatch: pytest.MonkeyPatch, parse: Callable[[bytes | str, str, str], ProjectPage]
) -> None:
    monkeypatch.setattr(simple_links, "MAX_PAGE_BYTES", 10)
    for body in (b"x" * 11, "x" * 11, "\u00e9" * 6):  # the last: 6 characters, 12 bytes
        with pytest.raises(IntegrityError) as info:
            parse(body, PAGE, "acme-core")
        assert "larger than" in info.value.message


def test_default_limits() -> None:
    assert simple_api.MAX_PAGE_BYTES == 64 * 1024 * 1024
    assert simple_api.MAX_FILES == 200_000


# -- properties -------------------------------------------------------------------------------

Outcome = Union[ProjectPage, IntegrityError]


def outcome(parse: Callable[[], ProjectPage]) -> Outcome:
    try:
        return parse()
    except IntegrityError as exc:
        return exc


def check_outcome(result: Outcome) -> None:
    """What must hold for any input: a sound page, or a one-line error without secrets."""
    if isinstance(result, IntegrityError):
        rendered = result.render()
        assert SECRET not in rendered and "\n" not in rendered
        return
    assert result.name == "acme-core" and result.url == SECRET_PAGE
    seen = set()
    for link in result.files:
        parts = urlsplit(link.url)
        assert parts.scheme in ("http", "https") and parts.hostname and not parts.fragment
        assert unquote(parts.path.rsplit("/", 1)[-1]) == link.filename
        assert parse_filename(link.filename).name == "acme-core"
        assert link.filename not in seen
        seen.add(link.filename)
        for algorithm, digest in link.hashes.items():
            assert algorithm == algorithm.lower() and digest == digest.lower()
            assert all(c in "0123456789abcdef" for c in digest)
    for what, reason in result.rejected:
        assert what.isprintable() and reason.isprintable() and SECRET not in what


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_html_gives_a_page_or_an_integrity_error(body: str | bytes) -> None:
    check_outcome(outcome(lambda: parse_html_page(body, SECRET_PAGE, "acme-core")))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_json_text_gives_a_page_or_an_integrity_error(body: str | bytes) -> None:
    check_outcome(outcome(lambda: parse_json_page(body, SECRET_PAGE, "acme-core")))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)
ENTRY_KEYS = st.sampled_from(
    [
        "filename",
        "url",
        "hashes",
        "requires-python",
        "yanked",
        "core-metadata",
        "dist-info-metadata",
        "size",
        "upload-time",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(ENTRY_KEYS, JSON_VALUES, max_size=9) | JSON_VALUES, max_size=5),
    JSON_VALUES,
)
def test_structured_json_gives_a_page_or_an_integrity_error(entries: list[Any], meta: Any) -> None:
    body = json.dumps({"meta": meta, "name": "acme-core", "files": entries})
    first = outcome(lambda: parse_json_page(body, SECRET_PAGE, "acme-core"))
    check_outcome(first)
    again = outcome(lambda: parse_json_page(body, SECRET_PAGE, "acme-core"))
    if isinstance(first, ProjectPage):
        assert again == first
    else:
        assert isinstance(again, IntegrityError) and again.render() == first.render()


HREFS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "http://", "https://", "HTTPS://", "//", "file://", "javascript:"]),
        st.sampled_from(
            ["", "//idx.example", f"//u:{SECRET}@h.example", "//[", "//h.example:0", "//h:x"]
        ),
        st.sampled_from(["", "/", "/f/", "/..%2F", "/%00", "/a%5C", "/./"]),
        st.sampled_from(
            [WHEEL, SDIST, "acme_core-1.0.zip", "other-1.0.tar.gz", "x.exe", "..", "", "%E2%80%AE"]
        ),
        st.sampled_from(["", "?q=1", f"#sha256={H256}", "#sha256=zz", "#egg=x", "#md5=0"]),
        st.text(max_size=3),
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(HREFS, st.sampled_from(["", " data-yanked", ' data-core-metadata="x"']))))
def test_hostile_hrefs_never_escape(links: list[tuple[str, str]]) -> None:
    body = "".join(f'<a href="{html.escape(h)}"{extra}>x</a>' for h, extra in links)
    first = outcome(lambda: parse_html_page(body, SECRET_PAGE, "acme-core"))
    check_outcome(first)
    if isinstance(first, ProjectPage):
        assert len(first.files) + len(first.rejected) <= len(links)
        assert parse_html_page(body, SECRET_PAGE, "acme-core") == first


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_filenames_parse_or_raise_integrity_error(text: str) -> None:
    try:
        dist = parse_filename(text)
    except IntegrityError as exc:
        assert "\n" not in exc.render()
    else:
        assert text.endswith((".whl", ".tar.gz", ".zip"))
        assert (dist.tags is None) == (not text.endswith(".whl"))
