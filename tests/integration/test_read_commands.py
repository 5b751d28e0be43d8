"""Read commands: `spip list --outdated` asks each name's own index; the pass-through commands
reach no index; `spip download` and `spip wheel` give the verified artifacts of the plan."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import installed, make_venv, run_spip

pytestmark = pytest.mark.slow


def installed_env(world: World, env: dict[str, str], spip_map: Path, tmp_path: Path) -> Path:
    venv = make_venv(tmp_path / "venv")
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), "acme-core==1.0.0", "publicdep"],
        env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return venv


def test_list_outdated_asks_each_name_its_own_index(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    venv = installed_env(world, env, spip_map, tmp_path)
    public_since, private_since = world.public.mark(), world.private.mark()
    result = run_spip(
        ["list", "--python", str(venv), "--map", str(spip_map), "--outdated", "--format", "json"],
        env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["acme-core"]["latest_version"] == "1.1.0"  # not the public impostor's 99.0.0
    assert rows["acme-core"]["index"] == "private"
    assert "acme-core" not in world.public.project_requests(public_since)
    assert world.private.project_requests(private_since) == {"acme-core"}
    uptodate = run_spip(
        ["list", "--python", str(venv), "--map", str(spip_map), "-u"], env, cwd=tmp_path
    )
    assert uptodate.returncode == 0 and "publicdep" in uptodate.stdout
    assert "acme-core" not in uptodate.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["list", "--format", "json"],
        ["freeze"],
        ["show", "acme-core"],
        ["uninstall", "-y", "publicdep"],
    ],
)
def test_pass_through_commands_reach_no_index(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path, command: list[str]
) -> None:
    venv = installed_env(world, env, spip_map, tmp_path)
    public_since, private_since = world.public.mark(), world.private.mark()
    hostile = dict(env, PIP_INDEX_URL=world.public.url, PIP_EXTRA_INDEX_URL=world.private.url)
    result = run_spip([*command, "--python", str(venv)], hostile, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert world.public.requests()[public_since:] == []
    assert world.private.requests()[private_since:] == []


def published(index_url: str, project: str, password: str | None = None) -> dict[str, str]:
    request = urllib.request.Request(f"{index_url}{project}/")
    if password:
        import base64

        token = base64.b64encode(f"acme-ci:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    page = urllib.request.urlopen(request).read().decode()
    return dict(re.findall(r'href="[^"#]*/([^/"#]+)#sha256=([0-9a-f]{64})', page))


def test_download_and_wheel_give_the_plans_verified_files(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    plan = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(make_venv(tmp_path / "v")),
            "--dry-run",
            "--report",
            str(report),
            "acme-utils",
            "publicdep",
        ],
        env,
        cwd=tmp_path,
    )
    assert plan.returncode == 0, plan.stderr
    planned = {
        item["download_info"]["url"].rsplit("/", 1)[-1]: item["download_info"]["archive_info"][
            "hashes"
        ]["sha256"]
        for item in json.loads(report.read_text())["install"]
    }
    downloads = tmp_path / "downloads"
    result = run_spip(
        ["download", "--map", str(spip_map), "-d", str(downloads), "acme-utils", "publicdep"],
        env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in downloads.iterdir()}
    assert got == planned
    served = {
        **published(world.private.url, "acme-utils", world.password),
        **published(world.private.url, "acme-core", world.password),
        **published(world.public.url, "publicdep"),
    }
    assert all(served[name] == digest for name, digest in got.items())
    wheels = tmp_path / "wheels"
    built = run_spip(
        ["wheel", "--map", str(spip_map), "-w", str(wheels), "acme-built"], env, cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in wheels.iterdir()) == [
        "acme_built-1.0.0-py3-none-any.whl",
        "acme_core-1.1.0-py3-none-any.whl",
    ]
    assert world.marker_files() == []
    assert installed(tmp_path / "v" / "bin" / "python") == {}
