"""Sessions of the Requester: TLS is set up only for requests that need it."""

from __future__ import annotations

import ssl

import pytest
import requests

from pipx_secure.index.http import HttpSettings, Requester
from pipx_secure.index.tls import TrustSettings, TrustStore
from pipx_secure.model.sourcemap import Index, IndexName


class CountingTrust(TrustStore):
    """A trust store that counts the SSL contexts it builds."""

    def __init__(self) -> None:
        super().__init__(TrustSettings())
        self.built = 0

    def _build(self, key: tuple[str, ...]) -> ssl.SSLContext:
        self.built += 1
        return ssl.create_default_context()


def requester(trust: TrustStore, settings: HttpSettings | None = None) -> Requester:
    return Requester(None, settings or HttpSettings(no_proxy_env=True), trust)


def test_a_plain_http_index_builds_no_tls_context_and_its_session_refuses_https() -> None:
    trust = CountingTrust()
    index = Index(IndexName("local"), "http://127.0.0.1:8080/simple/")
    session = requester(trust).session("pages", index, "http://127.0.0.1:8080/simple/a/")
    assert trust.built == 0
    assert session.get_adapter("http://127.0.0.1:8080/simple/a/") is not None
    with pytest.raises(requests.exceptions.InvalidSchema):
        session.get_adapter("https://127.0.0.1:8080/simple/a/")


def test_an_https_request_gets_the_trust_context_and_its_own_session() -> None:
    trust = CountingTrust()
    index = Index(IndexName("local"), "http://127.0.0.1:8080/simple/")
    http = requester(trust)
    plain = http.session("files", index, "http://127.0.0.1:8080/f.whl")
    secure = http.session("files", index, "https://cdn.invalid/f.whl")
    assert trust.built == 1
    assert secure is not plain
    assert secure.get_adapter("https://cdn.invalid/f.whl") is not None


def test_an_https_proxy_makes_even_a_plain_http_request_set_up_tls() -> None:
    trust = CountingTrust()
    index = Index(IndexName("local"), "http://127.0.0.1:8080/simple/")
    settings = HttpSettings(proxy="https://proxy.invalid:3128")
    requester(trust, settings).session("pages", index, "http://127.0.0.1:8080/simple/a/")
    assert trust.built == 1
