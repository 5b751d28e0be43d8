"""Every displayed URL goes through RedactedUrl: no password or token survives."""

from __future__ import annotations

from pipx_secure.model.redact import RedactedUrl, origin_of, redact, strip_userinfo


def test_password_is_masked_and_user_kept() -> None:
    url = RedactedUrl("https://bob:s3cr3t-value@idx.example/simple/")
    assert "s3cr3t-value" not in str(url)
    assert "s3cr3t-value" not in repr(url)
    assert str(url) == "https://bob:****@idx.example/simple/"
    assert url.secret_url.endswith("/simple/")


def test_token_as_user_is_masked() -> None:
    assert "tok123" not in redact("https://tok123@idx.example/simple/")


def test_secret_query_parameters_are_masked() -> None:
    shown = redact("https://idx.example/f.whl?X-Amz-Signature=abc123&x=1&token=zzz")
    assert "abc123" not in shown and "zzz" not in shown and "x=1" in shown


def test_origin_fills_default_ports() -> None:
    assert origin_of("https://IDX.example/simple") == ("https", "idx.example", 443)
    assert origin_of("http://idx.example:8080/") == ("http", "idx.example", 8080)


def test_strip_userinfo() -> None:
    assert strip_userinfo("https://a:b@h.example/x") == "https://h.example/x"


def test_urls_inside_free_text_are_masked() -> None:
    from pipx_secure.model.redact import redact_text

    text = "bad line: pkg @ https://bob:pw-123@h.example/x and git+https://tok999@g.example/r"
    shown = redact_text(text)
    assert "pw-123" not in shown and "tok999" not in shown
    assert "https://bob:****@h.example/x" in shown
