"""Credentials: environment, pip's own URL, keyring (URL, then host:port), netrc; scoped to
one origin, sent preemptively only where the map names a username, never rendered."""

from __future__ import annotations

from pathlib import Path

from pipx_secure.config.credentials import CredentialStore, keyring_services, netrc_machines
from pipx_secure.model.maptoml import PIP_CONFIGURATION
from pipx_secure.model.sourcemap import AuthMode, Index, IndexName

PRIVATE = Index(IndexName("private-idx"), "https://pkgs.example:8443/simple/", username="ci")
ON_443 = Index(IndexName("corp"), "https://corp.example/simple/", username="ci")
NO_USER = Index(IndexName("mirror"), "http://127.0.0.1:8081/simple/")
PUBLIC = Index(IndexName("public"), "https://public.example/simple/", is_default=True)
NOWHERE = Path("/nonexistent/netrc")


def test_environment_wins_and_secret_never_renders() -> None:
    store = CredentialStore(
        {"SPIP_INDEX_PRIVATE_IDX_PASSWORD": "env-secret-value"},
        keyring_lookup=lambda s, u: ("ci", "keyring-secret"),
    )
    credential = store.for_index(PRIVATE)
    assert credential is not None
    assert credential.password == "env-secret-value"
    assert credential.source == "environment"
    assert credential.where == "SPIP_INDEX_PRIVATE_IDX_PASSWORD"
    assert "env-secret-value" not in repr(credential) and "env-secret-value" not in str(credential)
    token = credential.basic_header().split(" ", 1)[1]
    assert set(store.secrets()) == {"env-secret-value", token}


def test_keyring_is_asked_with_url_then_host_and_port_never_the_bare_host() -> None:
    asked: list[tuple[str, str | None]] = []

    def lookup(service: str, username: str | None) -> tuple[str, str] | None:
        asked.append((service, username))
        if service in ("pkgs.example", "pkgs.example:8443"):
            return ("ci", f"from {service}")
        return None

    store = CredentialStore({}, keyring_lookup=lookup, netrc_path=NOWHERE)
    credential = store.for_index(PRIVATE)
    assert credential is not None and credential.password == "from pkgs.example:8443"
    assert asked[0] == ("https://pkgs.example:8443/simple/", "ci")
    assert asked[-1] == ("pkgs.example:8443", "ci")
    assert ("pkgs.example", "ci") not in asked  # a bare host names no port: not this index
    # memoized: a second lookup asks nobody
    store.for_index(PRIVATE)
    assert len(asked) == 3


def test_bare_host_keys_name_only_the_default_port() -> None:
    assert keyring_services(ON_443)[-1] == "corp.example"
    assert netrc_machines(ON_443) == ("corp.example:443", "corp.example")
    assert keyring_services(PRIVATE)[-1] == "pkgs.example:8443"
    assert netrc_machines(PRIVATE) == ("pkgs.example:8443",)


def test_netrc_bare_machine_is_refused_for_another_port(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pkgs.example login ci password netrc-pw\n")
    netrc.chmod(0o600)
    store = CredentialStore({}, keyring_lookup=lambda s, u: None, netrc_path=netrc)
    assert store.for_index(PRIVATE) is None  # the attack: another port would get it
    netrc.write_text("machine pkgs.example:8443 login ci password port-pw\n")
    exact = CredentialStore({}, keyring_lookup=lambda s, u: None, netrc_path=netrc)
    credential = exact.for_index(PRIVATE)
    assert credential is not None and credential.password == "port-pw"
    assert credential.source == "netrc" and "pkgs.example:8443" in credential.where


def test_netrc_is_the_last_resort_for_a_default_port_index(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine corp.example login ci password netrc-pw\n")
    netrc.chmod(0o600)
    store = CredentialStore({}, keyring_lookup=lambda s, u: None, netrc_path=netrc)
    credential = store.for_index(ON_443)
    assert credential is not None and credential.password == "netrc-pw"
    assert credential.source == "netrc"
    assert credential.basic_header().startswith("Basic ")


def test_no_credential_anywhere() -> None:
    store = CredentialStore({}, keyring_lookup=lambda s, u: None, netrc_path=NOWHERE)
    assert store.for_index(PRIVATE) is None
    assert store.secrets() == ()


def test_index_without_username_gets_a_credential_only_after_a_challenge() -> None:
    asked: list[tuple[str, str | None]] = []

    def lookup(service: str, username: str | None) -> tuple[str, str] | None:
        asked.append((service, username))
        return ("bot", "pw") if service == NO_USER.url else None

    store = CredentialStore({}, keyring_lookup=lookup, netrc_path=NOWHERE)
    assert NO_USER.auth is AuthMode.ON_CHALLENGE
    assert store.for_request(NO_USER) is None and asked == []  # keyring not even asked
    credential = store.after_challenge(NO_USER)
    assert credential is not None and credential.username == "bot"
    assert asked[0] == (NO_USER.url, None)  # username-less look-up
    assert store.for_request(NO_USER) == credential  # from now on, sent with every request


def test_default_index_without_username_never_gets_one() -> None:
    store = CredentialStore(
        {}, keyring_lookup=lambda s, u: ("x", "should-not-be-used"), netrc_path=NOWHERE
    )
    assert PUBLIC.auth is AuthMode.NEVER
    assert store.for_request(PUBLIC) is None
    assert store.after_challenge(PUBLIC) is None
    assert store.secrets() == ()


def test_password_without_username_says_where_the_username_came_from() -> None:
    store = CredentialStore({"SPIP_INDEX_MIRROR_PASSWORD": "tok"}, netrc_path=NOWHERE)
    credential = store.for_request(NO_USER)
    assert credential is not None and credential.username == "__token__"
    assert "no username" in credential.username_from


def test_pip_index_url_password_goes_only_to_pip_index() -> None:
    pip_index = Index(
        IndexName("default"),
        "http://127.0.0.1:9000/simple/",
        username="u",
        location=PIP_CONFIGURATION,
        is_default=True,
    )
    store = CredentialStore(
        {},
        keyring_lookup=lambda s, u: None,
        netrc_path=NOWHERE,
        pip_index_url=lambda: "http://u:p%40ss@127.0.0.1:9000/simple",
    )
    credential = store.for_request(pip_index)
    assert credential is not None and credential.password == "p@ss"
    assert credential.source == "pip configuration"
    other_port = Index(
        IndexName("default"), "http://127.0.0.1:9001/simple/", location=PIP_CONFIGURATION
    )
    assert store.for_request(other_port) is None
