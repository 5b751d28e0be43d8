"""spip init: from pip's scattered settings to one map, with the passwords moved into keyring.

The home and project below hold every source a guide to private registries teaches: pip.conf
(public index-url, private extra-index-url with the password in it, trusted-host), PIP_*
variables, a .env file (password in the URL), ~/.pypirc (password), ~/.netrc, index options in
requirements.txt, uv/Poetry/PDM tables in pyproject.toml, and a Makefile (password in the URL).
"""

from __future__ import annotations

import base64
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import clean_env, installed, make_venv, run_spip
from tests.support.world import plain_pip_install

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow


def user_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment whose pip reads the user's pip.conf (no PIP_CONFIG_FILE)."""
    env = clean_env(tmp_path)
    env.pop("PIP_CONFIG_FILE")
    return env


def private_url(world: World, *, password: bool) -> str:
    secret = f"{USERNAME}:{world.password}@" if password else ""
    return f"http://{secret}127.0.0.1:{world.private.port}/simple/"


def make_home_and_project(world: World, env: dict[str, str], project: Path) -> list[Path]:
    """Every source of index settings; returns the files that hold the password."""
    home = Path(env["HOME"])
    pip_conf = Path(env["XDG_CONFIG_HOME"]) / "pip" / "pip.conf"
    pip_conf.parent.mkdir(parents=True)
    pip_conf.write_text(
        f"[global]\nindex-url = {world.public.url}\n"
        f"extra-index-url = {private_url(world, password=True)}\ntrusted-host = 127.0.0.1\n"
    )
    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    company\n\n[company]\n"
        f"repository = http://127.0.0.1:{world.private.port}/\nusername = {USERNAME}\n"
        f"password = {world.password}\n"
    )
    netrc = home / ".netrc"
    netrc.write_text("machine build.example.internal login ci password unrelated-netrc-pw\n")
    netrc.chmod(0o600)
    project.mkdir()
    (project / ".env").write_text(
        f"# loaded by the team's tooling\nPIP_EXTRA_INDEX_URL={private_url(world, password=True)}\n"
    )
    (project / "requirements.txt").write_text(
        f"--extra-index-url {private_url(world, password=False)}\n"
        "acme-utils\npublicdep\nrequests-lite\n"
    )
    (project / "pyproject.toml").write_text(
        '[project]\nname = "service"\nversion = "1"\ndependencies = ["acme-utils", "publicdep"]\n'
        f'[[tool.uv.index]]\nname = "company"\nurl = "{private_url(world, password=False)}"\n'
        f'[[tool.poetry.source]]\nname = "company"\nurl = "{private_url(world, password=False)}"\n'
        'priority = "supplemental"\n'
    )
    (project / "Makefile").write_text(
        f"install:\n\tpip install --extra-index-url {private_url(world, password=True)} "
        "-r requirements.txt\n"
    )
    return [pip_conf, home / ".pypirc", project / ".env", project / "Makefile"]


def secret_forms(world: World) -> list[bytes]:
    token = base64.b64encode(f"{USERNAME}:{world.password}".encode())
    return [world.password.encode(), token]


def files_with_secret(root: Path, world: World) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        backup = path.name.endswith((".spip-backup", ".spip-backup-2"))
        if (
            path.is_file()
            and not backup
            and any(f in path.read_bytes() for f in secret_forms(world))
        ):
            hits.append(path)
    return hits


def test_no_map_and_several_indexes_is_refused_before_any_request(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = user_env(tmp_path)
    make_home_and_project(world, env, tmp_path / "project")
    private_since, public_since = world.private.mark(), world.public.mark()
    venv = make_venv(tmp_path / "target")
    result = run_spip(
        ["install", "--python", str(venv), "acme-utils"], env, cwd=tmp_path / "project"
    )
    assert result.returncode == 3
    assert "spip init" in result.stderr and "2 indexes" in result.stderr
    assert world.public.url in result.stderr and f"127.0.0.1:{world.private.port}" in result.stderr
    assert world.password not in result.stderr
    assert world.private.requests()[private_since:] == []
    assert world.public.requests()[public_since:] == []
    assert installed(venv) == {}


def test_init_writes_the_map_moves_the_passwords_and_spip_then_installs_safely(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = user_env(tmp_path)
    project = tmp_path / "project"
    holders = make_home_and_project(world, env, project)
    public_since = world.public.mark()
    audit = tmp_path / "audit.jsonl"
    result = run_spip(["init", "--yes", "--rewrite"], env, cwd=project, audit_log=audit)
    assert result.returncode == 0, result.stderr
    # Nothing about private names reached the public index during init.
    assert world.public.requests()[public_since:] == []
    # The map routes every private name to the private index, with no secret in it.
    data = tomllib.loads((project / "spip.toml").read_text())
    private = next(n for n, i in data["indexes"].items() if str(world.private.port) in i["url"])
    assert data["indexes"][private]["username"] == USERNAME
    assert data["packages"] == {"acme-*": private}
    assert data["default"] == "public" and data["indexes"]["public"]["url"] == world.public.url
    # The password is in the test keyring under the key the map's index looks up.
    check = run_spip(["auth", "check", private], env, cwd=project)
    assert check.returncode == 0 and "ok (keyring)" in check.stdout, check.stdout
    # No secret in any file under home or project (backups aside, mode 0600), output or argv.
    assert files_with_secret(tmp_path / "home", world) == []
    assert files_with_secret(project, world) == []
    for holder in holders:
        backup = holder.with_name(holder.name + ".spip-backup")
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert world.password not in backup.name
    output = (result.stdout + result.stderr).encode()
    assert not any(form in output for form in secret_forms(world))
    children = audit.read_bytes() if audit.exists() else b""  # init starts no process at all
    assert not any(form in children for form in secret_forms(world))
    # spip now installs the requirements safely; plain pip with the old setup would not.
    venv = make_venv(tmp_path / "target")
    installed_ok = run_spip(
        ["install", "--python", str(venv), "-r", "requirements.txt"], env, cwd=project
    )
    assert installed_ok.returncode == 0, installed_ok.stderr
    assert installed(venv)["acme-utils"] == "1.0.0" and installed(venv)["acme-core"] == "1.1.0"
    assert world.marker_files() == []
    pip_venv = make_venv(tmp_path / "pip")
    plain_pip_install(world, clean_env(tmp_path / "pip-env"), pip_venv, "acme-utils")
    assert installed(pip_venv).get("acme-utils") == "99.0.0"  # what init protects from


def test_init_dry_run_writes_and_stores_nothing(
    world: World, markers_cleared: World, tmp_path: Path
) -> None:
    env = user_env(tmp_path)
    project = tmp_path / "project"
    make_home_and_project(world, env, project)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = run_spip(["init", "--dry-run"], env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert '"acme-*" = ' in result.stdout and "[indexes.public]" in result.stdout
    assert world.password not in result.stdout + result.stderr
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # no map, no keyring file, no rewrite


def test_malformed_sources_are_named_by_file_and_line(world: World, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    project = tmp_path / "project"
    make_home_and_project(world, env, project)
    (project / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    (Path(env["HOME"]) / ".pypirc").write_text("[company\nrepository = x\n")
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.write_text("machine\n")
    result = run_spip(["init", "--dry-run"], env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"{project / '.env'}:2" in result.stderr
    assert f"{Path(env['HOME']) / '.pypirc'}:1" in result.stderr
    assert str(netrc) in result.stderr
    assert "Traceback" not in result.stderr
    assert os.environ.get("GOOD") is None


def test_check_exposure_asks_the_public_index_anonymously_and_says_so(
    world: World, tmp_path: Path
) -> None:
    env = user_env(tmp_path)
    project = tmp_path / "project"
    make_home_and_project(world, env, project)
    since = world.public.mark()
    result = run_spip(["init", "--dry-run", "--check-exposure"], env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "this reveals them to that index" in result.stdout
    assert "acme-core: also on public" in result.stdout
    asked = world.public.requests()[since:]
    assert "acme-core" in world.public.project_requests(since)
    assert {e["authorization"] for e in asked} == {None}
