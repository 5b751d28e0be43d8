"""spip audit against environments built by plain pip and by spip, on the real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import World
from tests.support.environment import run_spip, site_packages
from tests.support.packages import write_local_project
from tests.support.world import plain_pip_install as run_plain_pip

pytestmark = pytest.mark.slow


def audit(env: dict[str, str], spip_map: Path, venv: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = run_spip(
        ["audit", "--map", str(spip_map), "--python", str(venv), "--json", *extra],
        env,
        cwd=spip_map.parent,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def verdicts(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {p["name"]: p["verdict"] for p in report["packages"]}


def plain_pip_install(world: World, env: dict[str, str], venv: Path, *names: str) -> None:
    completed = run_plain_pip(world, env, venv, *names)
    assert completed.returncode == 0, completed.stderr


def test_impostor_installed_by_plain_pip_is_caught(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    plain_pip_install(world, env, venv, "acme-utils", "publicdep")
    code, report = audit(env, spip_map, venv, "--no-exposure")
    assert code == 1
    found = verdicts(report)
    assert found["acme-core"] == "not-on-assigned-index"
    assert found["acme-utils"] == "not-on-assigned-index"  # 99.0.0 from the impostor too
    assert found["publicdep"] == "verified"
    core = next(p for p in report["packages"] if p["name"] == "acme-core")
    assert "1.1.0" in core["reason"] and core["index"] == "private"


def test_environment_installed_by_spip_is_clean(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), "acme-utils", "publicdep"], env
    )
    assert result.returncode == 0, result.stderr
    code, report = audit(env, spip_map, venv, "--no-exposure")
    assert code == 0, report
    assert set(verdicts(report).values()) == {"installed-by-spip"}
    # Without spip's provenance record the files are verified against the index's wheels.
    (venv.parent.parent / "spip-provenance.json").unlink()
    code, report = audit(env, spip_map, venv, "--no-exposure")
    assert code == 0, report
    assert set(verdicts(report).values()) == {"verified"}


def test_hand_edited_file_is_a_mismatch_naming_the_file(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env
        ).returncode
        == 0
    )
    module = site_packages(venv) / "acme_core" / "__init__.py"
    module.write_text(module.read_text() + "import os  # backdoor\n")
    code, report = audit(env, spip_map, venv, "--no-exposure")
    assert code == 1
    core = next(p for p in report["packages"] if p["name"] == "acme-core")
    assert core["verdict"] == "mismatch"
    assert core["files"] == ["acme_core/__init__.py"]


def test_editable_install_is_unverifiable_with_reason(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    project = write_local_project(tmp_path / "proj", "acme-app", "0.1.0", requires=["acme-core"])
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), "-e", str(project)],
        env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    code, report = audit(env, spip_map, venv, "--no-exposure")
    app = next(p for p in report["packages"] if p["name"] == "acme-app")
    assert app["verdict"] == "unverifiable" and "editable" in app["reason"]
    assert verdicts(report)["acme-core"] == "installed-by-spip"
    assert code == 1


def test_exposure_scan_flags_private_names_on_public_index(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-utils", "publicdep"],
            env,
        ).returncode
        == 0
    )
    since = world.public.mark()
    code, report = audit(env, spip_map, venv)
    assert code == 1
    exposed = {e["name"]: e for e in report["exposure"]}
    assert set(exposed) == {"acme-core", "acme-utils"}
    assert exposed["acme-core"]["public_version"] == "99.0.0"
    assert exposed["acme-core"]["private_version"] == "1.1.0"
    assert exposed["acme-core"]["severity"] == "high"
    asked = world.public.requests()[since:]
    assert world.public.project_requests(since) == {"acme-core", "acme-utils"}
    assert all(entry["authorization"] is None for entry in asked)
    assert report["forwarding"] == []


def test_table_output_for_people(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    plain_pip_install(world, env, venv, "acme-core")
    result = run_spip(
        ["audit", "--map", str(spip_map), "--python", str(venv), "--no-exposure"],
        dict(env, COLUMNS="160"),
    )
    assert result.returncode == 1
    assert "not-on-assigned-index" in result.stdout and "acme-core" in result.stdout


def test_private_index_that_mirrors_public_names_is_flagged(
    world: World, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    from tests.support.packages import build_wheel
    from tests.support.servers import start_server

    root = tmp_path / "mirror-packages"
    build_wheel(root, "acme-core", "1.1.0")
    build_wheel(root, "requests-lite", "2.0.0")  # a public name the private index also serves
    mirror = start_server(root, tmp_path / "mirror-server")
    try:
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.mirror]\nurl = "{mirror.url}"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-*" = "mirror"\n'
        )
        result = run_spip(
            [
                "install",
                "--map",
                str(spip_map),
                "--python",
                str(venv),
                "acme-core",
                "requests-lite",
            ],
            env,
        )
        assert result.returncode == 0, result.stderr
        code, report = audit(env, spip_map, venv)
        assert code == 1
        assert [f["index"] for f in report["forwarding"]] == ["mirror"]
        assert report["forwarding"][0]["probe"] == "requests-lite"
    finally:
        mirror.stop()


def test_record_rewritten_with_the_file_is_still_caught(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    import base64
    import hashlib

    assert (
        run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env
        ).returncode
        == 0
    )
    site = site_packages(venv)
    module = site / "acme_core" / "__init__.py"
    evil = module.read_text() + "import os  # backdoor\n"
    module.write_text(evil)
    digest = base64.urlsafe_b64encode(hashlib.sha256(evil.encode()).digest()).rstrip(b"=")
    record = next(site.glob("acme_core-*.dist-info")) / "RECORD"
    lines = [
        f"acme_core/__init__.py,sha256={digest.decode()},{len(evil)}"
        if line.startswith("acme_core/__init__.py,")
        else line
        for line in record.read_text().splitlines()
    ]
    record.write_text("\n".join(lines) + "\n")
    # The attacker also fixes spip's provenance record to match the new RECORD.
    provenance_file = venv.parent.parent / "spip-provenance.json"
    provenance = json.loads(provenance_file.read_text())
    provenance["packages"]["acme-core"]["record_sha256"] = hashlib.sha256(
        record.read_bytes()
    ).hexdigest()
    provenance_file.write_text(json.dumps(provenance))
    code, report = audit(env, spip_map, venv, "--no-exposure")
    core = next(p for p in report["packages"] if p["name"] == "acme-core")
    assert code == 1 and core["verdict"] == "mismatch"
    assert core["files"] == ["acme_core/__init__.py"]


def test_distribution_spip_built_is_verified_against_the_wheel_it_built(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    import base64
    import hashlib

    result = run_spip(["install", "--map", str(spip_map), "--python", str(venv), "acme-built"], env)
    assert result.returncode == 0, result.stderr
    provenance_file = venv.parent.parent / "spip-provenance.json"
    recorded = json.loads(provenance_file.read_text())["packages"]["acme-built"]
    assert recorded["filename"].endswith(".tar.gz") and recorded["wheel_filename"].endswith(".whl")
    code, report = audit(env, spip_map, venv, "--no-exposure")
    built = next(p for p in report["packages"] if p["name"] == "acme-built")
    assert code == 0, report
    assert (built["verdict"], built["record_source"]) == ("installed-by-spip", "built-wheel")
    assert built["sha256"] == recorded["wheel_sha256"]
    # Today's attacker rewrites the file, its RECORD line and spip's provenance: the wheel
    # spip built still says what the file was.
    site = site_packages(venv)
    module = site / "acme_built" / "__init__.py"
    evil = module.read_text() + "import os  # backdoor\n"
    module.write_text(evil)
    digest = base64.urlsafe_b64encode(hashlib.sha256(evil.encode()).digest()).rstrip(b"=")
    record = next(site.glob("acme_built-*.dist-info")) / "RECORD"
    record.write_text(
        "\n".join(
            f"acme_built/__init__.py,sha256={digest.decode()},{len(evil)}"
            if line.startswith("acme_built/__init__.py,")
            else line
            for line in record.read_text().splitlines()
        )
        + "\n"
    )
    provenance = json.loads(provenance_file.read_text())
    provenance["packages"]["acme-built"]["record_sha256"] = hashlib.sha256(
        record.read_bytes()
    ).hexdigest()
    provenance_file.write_text(json.dumps(provenance))
    code, report = audit(env, spip_map, venv, "--no-exposure")
    built = next(p for p in report["packages"] if p["name"] == "acme-built")
    assert code == 1 and built["verdict"] == "mismatch"
    assert built["files"] == ["acme_built/__init__.py"]
