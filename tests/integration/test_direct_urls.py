"""Direct URL requirements: refused unless [direct-urls] allows that host for that name."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import installed, run_spip, site_packages
from tests.support.packages import write_local_project
from tests.support.servers import start_static_server

pytestmark = pytest.mark.slow


def allow(world: World, path: Path, rules: str) -> Path:
    world.write_map(path)
    path.write_text(path.read_text() + "[direct-urls]\n" + rules)
    return path


def wheel_url(world: World) -> tuple[str, str]:
    base = world.public.url[: -len("simple/")]
    wheel = next(world.public.root.glob("requests_lite-2.0.0-*.whl"))
    return f"{base}packages/{wheel.name}", hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_allowed_archive_url_with_hash(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    url, digest = wheel_url(world)
    spip_map = allow(world, tmp_path / "spip.toml", '"requests-lite" = ["127.0.0.1"]\n')
    result = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            f"requests-lite @ {url}#sha256={digest}",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"requests-lite": "2.0.0"}
    direct = json.loads(
        next(site_packages(venv).glob("requests_lite-*.dist-info"))
        .joinpath("direct_url.json")
        .read_text()
    )
    assert direct["url"] == url and direct["archive_info"]["hashes"]["sha256"] == digest


def test_allowed_archive_url_without_hash_is_refused(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    url, _digest = wheel_url(world)
    spip_map = allow(world, tmp_path / "spip.toml", '"requests-lite" = ["127.0.0.1"]\n')
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), f"requests-lite @ {url}"], env
    )
    assert result.returncode == 3 and "no hash" in result.stderr
    assert installed(venv) == {}


def test_url_from_a_host_the_map_does_not_allow(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    url, digest = wheel_url(world)
    spip_map = allow(world, tmp_path / "spip.toml", '"requests-lite" = ["files.example"]\n')
    result = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            f"requests-lite @ {url}#sha256={digest}",
        ],
        env,
    )
    assert result.returncode == 3
    assert '[direct-urls] "requests-lite" = ["127.0.0.1"]' in result.stderr
    assert installed(venv) == {}


def test_allowed_git_url_records_the_commit(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    project = write_local_project(tmp_path / "work", "acme-gitpkg", "0.3.0", requires=["acme-core"])
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(project)], check=True)
    subprocess.run([*git, "-C", str(project), "add", "."], check=True)
    subprocess.run([*git, "-C", str(project), "commit", "-q", "-m", "v0.3.0"], check=True)
    subprocess.run([*git, "-C", str(project), "tag", "v0.3.0"], check=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(project), str(served / "repo.git")], check=True
    )
    subprocess.run(["git", "-C", str(served / "repo.git"), "update-server-info"], check=True)
    commit = subprocess.run(
        ["git", "-C", str(project), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    static = start_static_server(served, tmp_path / "git-server")
    try:
        url = f"git+{static.origin}/repo.git@v0.3.0"
        spip_map = allow(world, tmp_path / "spip.toml", '"acme-gitpkg" = ["127.0.0.1"]\n')
        result = run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), f"acme-gitpkg @ {url}"], env
        )
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-gitpkg": "0.3.0", "acme-core": "1.1.0"}
        direct = json.loads(
            next(site_packages(venv).glob("acme_gitpkg-*.dist-info"))
            .joinpath("direct_url.json")
            .read_text()
        )
        assert direct["vcs_info"] == {
            "vcs": "git",
            "commit_id": commit,
            "requested_revision": "v0.3.0",
        }
        assert world.marker_files() == []
    finally:
        static.stop()


def test_check_respects_direct_urls(world: World, env: dict[str, str], tmp_path: Path) -> None:
    url, digest = wheel_url(world)
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(f"requests-lite @ {url}#sha256={digest}\n./local-project\n")
    allowed = allow(world, tmp_path / "allowed.toml", '"requests-lite" = ["127.0.0.1"]\n')
    ok = run_spip(["check", "--map", str(allowed), "--json", str(reqs)], env)
    assert ok.returncode == 0, ok.stdout
    kinds = [f["kind"] for f in json.loads(ok.stdout)["findings"]]
    assert "direct-url" not in kinds and "local-path" in kinds
    world.write_map(tmp_path / "plain.toml")
    refused = run_spip(["check", "--map", str(tmp_path / "plain.toml"), "--json", str(reqs)], env)
    assert refused.returncode == 1
    finding = next(f for f in json.loads(refused.stdout)["findings"] if f["kind"] == "direct-url")
    assert finding["package"] == "requests-lite" and "[direct-urls]" in finding["message"]


def test_git_revision_that_looks_like_an_option_is_refused(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    spip_map = allow(world, tmp_path / "spip.toml", '"acme-gitpkg" = ["127.0.0.1"]\n')
    result = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            "acme-gitpkg @ git+http://127.0.0.1:9/repo.git@--orphan=x",
        ],
        env,
    )
    assert result.returncode == 3 and "invalid git revision" in result.stderr
    assert installed(venv) == {}
