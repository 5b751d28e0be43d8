"""Credentials: environment, then keyring (URL, then host), then netrc; never rendered."""

from __future__ import annotations

from pathlib import Path

from pipx_secure.config.credentials import CredentialStore
from pipx_secure.model.sourcemap import Index, IndexName

PRIVATE = Index(IndexName("private-idx"), "https://pkgs.example:8443/simple/", username="ci")


def test_environment_wins_and_secret_never_renders() -> None:
    store = CredentialStore(
        {"SPIP_INDEX_PRIVATE_IDX_PASSWORD": "env-secret-value"},
        keyring_lookup=lambda s, u: ("ci", "keyring-secret"),
    )
    credential = store.for_index(PRIVATE)
    assert credential is not None
    assert credential.password == "env-secret-value"
    assert credential.source == "environment"
    assert "env-secret-value" not in repr(credential) and "env-secret-value" not in str(credential)
    assert store.secrets() == ("env-secret-value",)


def test_keyring_is_asked_with_url_then_host() -> None:
    asked: list[tuple[str, str | None]] = []

    def lookup(service: str, username: str | None) -> tuple[str, str] | None:
        asked.append((service, username))
        return ("ci", "from-host") if service == "pkgs.example" else None

    store = CredentialStore({}, keyring_lookup=lookup, netrc_path=Path("/nonexistent"))
    credential = store.for_index(PRIVATE)
    assert credential is not None and credential.password == "from-host"
    assert asked[0] == ("https://pkgs.example:8443/simple/", "ci")
    assert asked[-1] == ("pkgs.example", "ci")
    # memoized: a second lookup asks nobody
    store.for_index(PRIVATE)
    assert len(asked) == 3


def test_netrc_is_the_last_resort(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pkgs.example login ci password netrc-pw\n")
    netrc.chmod(0o600)
    store = CredentialStore({}, keyring_lookup=lambda s, u: None, netrc_path=netrc)
    credential = store.for_index(PRIVATE)
    assert credential is not None and credential.password == "netrc-pw"
    assert credential.source == "netrc"
    assert credential.basic_header().startswith("Basic ")


def test_no_credential_anywhere() -> None:
    store = CredentialStore(
        {}, keyring_lookup=lambda s, u: None, netrc_path=Path("/nonexistent/netrc")
    )
    assert store.for_index(PRIVATE) is None
    assert store.secrets() == ()
