"""The audit's pure parts: accept rules (flag and map), RECORD path helpers, containment of
attacker-controlled RECORD paths, and what accepting may and may not change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from pipx_secure.audit.accept import apply_accept
from pipx_secure.audit.files import DiskHashes, Roots
from pipx_secure.audit.report import FileFinding, FileKind, PackageAudit, Verdict
from pipx_secure.cli.main import main
from pipx_secure.errors import SourceMapError
from pipx_secure.model.accept import parse_accept
from pipx_secure.model.maptoml import parse_source_map
from pipx_secure.model.records import (
    bytecode_name,
    entry_point_scripts,
    installed_place,
    is_installer_file,
    pth_executes,
)
from pipx_secure.model.sourcemap import SourceMap

BASE = {"default": "public", "indexes": {"public": {"url": "https://public.example/simple/"}}}


def with_audit(audit: object) -> SourceMap:
    return parse_source_map(dict(BASE, audit=audit), origin="spip.toml")


def test_accept_rules_by_name_and_exact_version() -> None:
    anyversion, exact = parse_accept("Legacy_Tool"), parse_accept("legacy-tool == 2.1")
    assert anyversion.matches("legacy.tool", "9") and str(anyversion) == "legacy-tool"
    assert exact.matches("legacy-tool", "2.1.0") and not exact.matches("legacy-tool", "2.2")
    assert str(exact) == "legacy-tool==2.1"


@pytest.mark.parametrize("raw", ["", "foo>=1", "foo==", "foo==not a version", "-x", "a b"])
def test_malformed_accept_rules_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_accept(raw)


def test_map_audit_accept_list() -> None:
    source_map = with_audit({"accept": ["legacy-tool", "Other==1.0"]})
    assert [str(r) for r in source_map.audit_accept] == ["legacy-tool", "other==1.0"]
    assert (
        with_audit({}).audit_accept == () and parse_source_map(BASE, origin="m").audit_accept == ()
    )


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        ({"accept": ["foo>=1"]}, "invalid accept entry"),
        ({"accept": "foo"}, "must be a list"),
        ({"acept": ["foo"]}, "unknown key"),
        ("foo", "'audit' must be a table"),
    ],
)
def test_map_audit_errors_name_the_key(audit: object, message: str) -> None:
    with pytest.raises(SourceMapError) as caught:
        with_audit(audit)
    assert message in caught.value.message
    assert "audit" in (caught.value.location or "") or "audit" in caught.value.message


@pytest.mark.parametrize(
    "argv",
    [["audit", "--accept", "foo>=1"], ["audit", "--json", "--format", "sarif"]],
)
def test_bad_audit_flags_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("spip: error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_record_path_helpers() -> None:
    assert installed_place("pkg/mod.py") == ("site", "pkg/mod.py")
    assert installed_place("pkg-1.0.data/purelib/x.py") == ("site", "x.py")
    assert installed_place("pkg-1.0.data/scripts/tool") == ("scripts", "tool")
    assert installed_place("pkg-1.0.data/data/share/x") == ("data", "share/x")
    assert installed_place("pkg-1.0.data/headers/x.h") == ("headers", "x.h")
    assert is_installer_file("pkg-1.0.dist-info/INSTALLER")
    assert not is_installer_file("pkg-1.0.dist-info/METADATA")
    assert bytecode_name("mod.cpython-311.pyc") == ("mod", "cpython-311", 0)
    assert bytecode_name("mod.cpython-311.opt-2.pyc") == ("mod", "cpython-311", 2)
    assert bytecode_name("mod.pyc") is None and bytecode_name("mod.py") is None
    assert pth_executes("/some/dir\nimport os; os.system('x')\n")
    assert pth_executes("import\tsys\n") and not pth_executes("# import os\n/dir\n  import x\n")
    assert entry_point_scripts(
        "[console_scripts]\na = m:f\n[gui_scripts]\nb=m:g\n[x]\nc=m:h\n"
    ) == {
        "a",
        "b",
    }


def test_record_paths_that_leave_the_environment_are_not_located(tmp_path: Path) -> None:
    site = tmp_path / "env" / "lib" / "site-packages"
    scripts = tmp_path / "env" / "bin"
    site.mkdir(parents=True)
    scripts.mkdir()
    roots = Roots.of((site,), scripts, tmp_path / "env")
    base = os.path.realpath(site)
    assert roots.locate(base, "pkg/mod.py") is not None
    located = roots.locate(base, "../../bin/tool")
    assert located is not None and located.root == "scripts"
    assert roots.locate(base, "../../../../etc/passwd") is None
    assert roots.locate(base, "/etc/passwd") is None
    assert roots.locate(base, "") is None


def test_links_out_of_the_environment_are_never_read(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    secret = tmp_path / "outside-secret"
    secret.write_text("secret")
    (site / "link.py").symlink_to(secret)
    os.mkfifo(site / "fifo.py")
    (site / "ok.py").write_text("x = 1\n")
    disk = DiskHashes(Roots.of((site,), None, None))
    real = os.path.realpath(site)
    assert (
        disk.digest(f"{real}/link.py", "sha256").problem
        == "links outside the environment; not read"
    )
    assert disk.digest(f"{real}/fifo.py", "sha256").problem == "not a regular file"
    assert disk.digest(f"{real}/gone.py", "sha256").problem == "missing"
    assert disk.digest(f"{real}/ok.py", "sha256").digest is not None


def package(name: str, verdict: Verdict, version: str = "1.0") -> PackageAudit:
    return PackageAudit(NormalizedName(name), version, "public", "default", verdict, "why")


def test_accept_turns_only_unverifiable_into_accepted() -> None:
    rules = [parse_accept("built"), parse_accept("evil"), parse_accept("unused==1")]
    packages = [package("built", Verdict.UNVERIFIABLE), package("evil", Verdict.MISMATCH)]
    files = [
        FileFinding("/s/b.pyc", "site", FileKind.BYTECODE, Verdict.UNVERIFIABLE, ("built",), "x"),
        FileFinding("/s/e.py", "site", FileKind.FILE, Verdict.MISMATCH, ("evil",), "x"),
        FileFinding("/s/u.py", "site", FileKind.FILE, Verdict.UNOWNED, (), "x"),
    ]
    out, out_files, notes = apply_accept(packages, files, rules)
    assert [p.verdict for p in out] == [Verdict.ACCEPTED, Verdict.MISMATCH]
    assert out[0].reason.startswith("accepted by built")
    assert [f.verdict for f in out_files] == [Verdict.ACCEPTED, Verdict.MISMATCH, Verdict.UNOWNED]
    assert notes == ["accept rule unused==1 matched no installed distribution"]
