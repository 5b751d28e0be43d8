"""Credentials as people store them, scoped to their origin: every source and look-up key, the
attacks that host-keyed entries make possible, and every auth failure message in full."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import clean_env, installed, make_venv, run_spip, store_password
from tests.support.world import plain_pip_install

pytestmark = pytest.mark.slow

BACKEND_DIR = Path(__file__).resolve().parents[1] / "support" / "keyring_backend"


def bare_env(tmp_path: Path, *, usernameless: bool = False) -> dict[str, str]:
    """A clean environment with an empty keyring (nothing stored yet)."""
    env = clean_env(tmp_path)
    if usernameless:
        env.update(
            PYTHONPATH=str(BACKEND_DIR),
            PYTHON_KEYRING_BACKEND="spip_test_keyring.UsernamelessPlaintextKeyring",
        )
    return env


def write_map(path: Path, world: World, *, username: bool = True, extra: str = "") -> Path:
    user = f'username = "{USERNAME}"\n' if username else ""
    path.write_text(
        'default = "public"\n'
        f'[indexes.private]\nurl = "{world.private.url}"\n{user}'
        f'[indexes.public]\nurl = "{world.public.url}"\n'
        '[packages]\n"acme-*" = "private"\n' + extra
    )
    return path


def install(
    spip_map: Path, env: dict[str, str], tmp_path: Path, *names: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    venv = make_venv(tmp_path / f"venv-{len(list(tmp_path.glob('venv-*')))}")
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *names],
        env,
        cwd=spip_map.parent,
    )
    return result, venv


def authorizations(entries: list[dict[str, str | None]]) -> set[str | None]:
    return {e["authorization"] for e in entries}


def netloc(world: World) -> str:
    return f"127.0.0.1:{world.private.port}"


def test_keyring_entry_under_host_and_port_is_used(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = bare_env(tmp_path)
    store_password(env, netloc(world), USERNAME, world.password)
    spip_map = write_map(tmp_path / "spip.toml", world)
    result, venv = install(spip_map, env, tmp_path, "acme-utils")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}


def test_username_less_keyring_entry_is_used_after_a_challenge(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = bare_env(tmp_path, usernameless=True)
    store_password(env, world.private.url, USERNAME, world.password)
    spip_map = write_map(tmp_path / "spip.toml", world, username=False)
    since = world.private.mark()
    result, venv = install(spip_map, env, tmp_path, "acme-core")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    entries = world.private.requests()[since:]
    assert entries[0]["authorization"] is None  # nothing sent before the index asked
    token = base64.b64encode(f"{USERNAME}:{world.password}".encode()).decode()
    assert entries[-1]["authorization"] == f"Basic {token}"


def test_netrc_entry_for_host_and_port_is_used(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = bare_env(tmp_path)
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.write_text(f"machine {netloc(world)} login {USERNAME} password {world.password}\n")
    netrc.chmod(0o600)
    spip_map = write_map(tmp_path / "spip.toml", world)
    public_since = world.public.mark()
    result, venv = install(spip_map, env, tmp_path, "publicdep")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"publicdep": "1.0.0", "acme-core": "1.1.0"}
    assert authorizations(world.public.requests()[public_since:]) == {None}


def test_bare_host_keyring_entry_never_reaches_another_port(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    """The attack: a password stored under the bare host names every port of that host."""
    env = bare_env(tmp_path)
    store_password(env, "127.0.0.1", USERNAME, world.password)
    # Possible: a look-up by host finds it, whatever index (port) asks.
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; print(keyring.get_password('127.0.0.1', 'acme-ci'))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == world.password
    # A second index on the same host, another port, that the map gives a username.
    spip_map = write_map(
        tmp_path / "spip.toml",
        world,
        extra=f'"requests-lite" = "mirror"\n[indexes.mirror]\nurl = "{world.public.url}"\n'
        f'username = "{USERNAME}"\n',
    )
    public_since = world.public.mark()
    result, venv = install(spip_map, env, tmp_path, "requests-lite")
    assert result.returncode == 0, result.stderr  # the mirror needs no credential after all
    assert installed(venv) == {"requests-lite": "2.0.0"}
    assert authorizations(world.public.requests()[public_since:]) == {None}
    assert world.password not in result.stdout + result.stderr


def test_bare_netrc_machine_reaches_no_other_port(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = bare_env(tmp_path)
    # The attack, shown with plain pip: a netrc entry for the host sends the private
    # password to the public index (another port of the same host) on every request.
    public_since = world.public.mark()
    pip_venv = make_venv(tmp_path / "pip-venv")
    plain_pip_install(world, env, pip_venv, "requests-lite")
    token = base64.b64encode(f"{USERNAME}:{world.password}".encode()).decode()
    assert f"Basic {token}" in authorizations(world.public.requests()[public_since:])
    # spip with the same netrc entry: the public index gets nothing, nor does the private one
    # (a bare machine names no port), and the error says how to store it instead.
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {world.password}\n")
    netrc.chmod(0o600)
    spip_map = write_map(tmp_path / "spip.toml", world)
    public_since = world.public.mark()
    private_since = world.private.mark()
    result, venv = install(spip_map, env, tmp_path, "publicdep")
    assert result.returncode == 6
    assert authorizations(world.public.requests()[public_since:]) == {None}
    assert authorizations(world.private.requests()[private_since:]) == {None}
    assert f"machine {netloc(world)}" in result.stderr and "spip auth set private" in result.stderr
    assert installed(venv) == {}


def expected_line(message: str, hint: str) -> str:
    return f"spip: error: {message} (hint: {hint})\n"


def test_no_credential_anywhere_message(world: World, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    spip_map = write_map(tmp_path / "spip.toml", world)
    result, _venv = install(spip_map, env, tmp_path, "acme-core")
    url = world.private.url
    looked = (
        f"SPIP_INDEX_PRIVATE_PASSWORD, keyring service '{url}', keyring service "
        f"'{url.rstrip('/')}', keyring service '{netloc(world)}', {env['HOME']}/.netrc "
        f"machine {netloc(world)}"
    )
    assert result.returncode == 6
    assert result.stderr == expected_line(
        f"index private ({url}) requires credentials (HTTP 401) for project page of "
        "'acme-core', and none was found",
        f"looked in: {looked}; run `spip auth set private` (or set SPIP_INDEX_PRIVATE_USERNAME "
        "and SPIP_INDEX_PRIVATE_PASSWORD)",
    )


@pytest.mark.parametrize("source", ["keyring", "environment", "netrc"])
def test_refused_password_message_names_its_source(
    world: World, tmp_path: Path, source: str
) -> None:
    env = bare_env(tmp_path)
    wrong = "Wr0ng-" + world.password[::-1]
    url = world.private.url
    user = f"user '{USERNAME}' (from the map)"
    if source == "keyring":
        store_password(env, url, USERNAME, wrong)
        hint = (
            f"the password stored in keyring (service '{url}') was refused for {user}; run "
            "`spip auth set private` to store the right one"
        )
    elif source == "environment":
        env["SPIP_INDEX_PRIVATE_PASSWORD"] = wrong
        hint = f"the password in SPIP_INDEX_PRIVATE_PASSWORD was refused for {user}; correct it"
    else:
        netrc = Path(env["HOME"]) / ".netrc"
        netrc.write_text(f"machine {netloc(world)} login {USERNAME} password {wrong}\n")
        netrc.chmod(0o600)
        hint = (
            f"the password in {netrc} machine {netloc(world)} was refused for {user}; fix that "
            "entry or run `spip auth set private`"
        )
    result, _venv = install(write_map(tmp_path / "spip.toml", world), env, tmp_path, "acme-core")
    assert result.returncode == 6
    assert result.stderr == expected_line(
        f"index private ({url}) refused the credentials (HTTP 403) for project page of 'acme-core'",
        hint,
    )
    assert wrong not in result.stderr


def test_password_without_username_says_so(world: World, tmp_path: Path) -> None:
    env = dict(bare_env(tmp_path), SPIP_INDEX_PRIVATE_PASSWORD=world.password)
    spip_map = write_map(tmp_path / "spip.toml", world, username=False)
    result, _venv = install(spip_map, env, tmp_path, "acme-core")
    assert result.returncode == 6
    assert result.stderr == expected_line(
        f"index private ({world.private.url}) refused the credentials (HTTP 403) for project "
        "page of 'acme-core'",
        "the password in SPIP_INDEX_PRIVATE_PASSWORD was refused for user '__token__' (from the "
        "token convention (no username was set)); correct it, or set "
        "SPIP_INDEX_PRIVATE_USERNAME (or `username` in the map)",
    )
    fixed = dict(env, SPIP_INDEX_PRIVATE_USERNAME=USERNAME)
    ok, venv = install(spip_map, fixed, tmp_path, "acme-core")
    assert ok.returncode == 0, ok.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_default_index_without_username_gets_no_credential(world: World, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    store_password(env, world.private.url, USERNAME, world.password)
    spip_map = tmp_path / "spip.toml"
    spip_map.write_text(f'default = "private"\n[indexes.private]\nurl = "{world.private.url}"\n')
    since = world.private.mark()
    result, _venv = install(spip_map, env, tmp_path, "acme-core")
    assert result.returncode == 6
    assert authorizations(world.private.requests()[since:]) == {None}
    assert result.stderr == expected_line(
        f"index private ({world.private.url}) requires credentials (HTTP 401) for project page "
        "of 'acme-core', and none was found",
        "the default index gets credentials only when the map names its username: add "
        'username = "..." to [indexes.private], then run `spip auth set private`',
    )


def test_auth_check_tells_missing_refused_and_ok_apart(world: World, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    spip_map = write_map(tmp_path / "spip.toml", world)
    missing = run_spip(["auth", "check", "--map", str(spip_map), "private"], env)
    assert missing.returncode == 6
    assert missing.stdout.startswith("private: no credential found (looked in: ")
    store_password(env, world.private.url, USERNAME, "not-" + world.password)
    refused = run_spip(["auth", "check", "--map", str(spip_map), "private"], env)
    assert refused.returncode == 6 and refused.stdout.startswith("private: refused (")
    assert "keyring" in refused.stdout
    store_password(env, world.private.url, USERNAME, world.password)
    ok = run_spip(["auth", "check", "--map", str(spip_map), "private"], env)
    assert ok.returncode == 0
    assert ok.stdout == f"private: ok (keyring) service '{world.private.url}', user '{USERNAME}'\n"
    for result in (missing, refused, ok):
        assert world.password not in result.stdout + result.stderr


def test_import_pypirc_stores_where_the_map_looks(world: World, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    spip_map = write_map(tmp_path / "spip.toml", world)
    pypirc = tmp_path / ".pypirc"
    upload_url = world.private.url.replace("/simple/", "/")  # an upload URL, not /simple/
    pypirc.write_text(
        f"[distutils]\nindex-servers = private\n\n[private]\nrepository = {upload_url}\n"
        f"username = {USERNAME}\npassword = {world.password}\n"
    )
    result = run_spip(["auth", "import-pypirc", "--map", str(spip_map), "--file", str(pypirc)], env)
    assert result.returncode == 0, result.stderr
    assert f"for index private in keyring (service {world.private.url})" in result.stdout
    installed_result, venv = install(spip_map, env, tmp_path, "acme-core")
    assert installed(venv) == {"acme-core": "1.1.0"}
    assert installed_result.returncode == 0, installed_result.stderr
    assert world.password not in result.stdout + result.stderr


def test_password_in_pips_own_index_url_is_used_for_that_index_only(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = bare_env(tmp_path)
    host = f"127.0.0.1:{world.private.port}"
    env["PIP_INDEX_URL"] = f"http://{USERNAME}:{world.password}@{host}/simple/"
    venv = make_venv(tmp_path / "target")
    # No map, one configured index (pip's): allowed, with the credential pip would send.
    result = run_spip(["install", "--python", str(venv), "acme-core"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    assert world.password not in result.stdout + result.stderr
