"""The audit engine through the fakes (no server, no process): verdicts from range-read
RECORDs, attacker-controlled RECORD paths, and a server without range support."""

from __future__ import annotations

import zipfile
from pathlib import Path

from pipx_secure.audit.report import AuditReport
from pipx_secure.commands.audit import AuditSettings, run
from tests.unit.fakes import PRIVATE_URL, Rig, make_rig


def unpack(rig: Rig, name: str) -> Path:
    """Install a catalogue wheel the way an installer does: files, and its RECORD."""
    wheel = rig.transport.catalogue[PRIVATE_URL][name][-1]
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(rig.site)
        record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
    return rig.site / record


def audit(rig: Rig) -> AuditReport:
    settings = AuditSettings(map_path=rig.map_path, python=str(rig.python), exposure=False)
    return run(settings, rig.services)


def test_a_clean_install_is_verified_from_range_reads(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    unpack(rig, "acme-core")
    report = audit(rig)
    assert [(p.name, p.verdict.value) for p in report.packages] == [("acme-core", "verified")]
    assert report.exit_code == 0 and report.files == ()
    assert rig.transport.asked("range") == [("private", "acme_core-1.1.0-py3-none-any.whl")]
    assert rig.transport.asked("download") == []


def test_record_paths_out_of_the_environment_are_reported_and_not_read(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    record = unpack(rig, "acme-core")
    outside = tmp_path / "outside.py"
    outside.write_text("secret = 1\n")
    (rig.site / "acme_core" / "link.py").symlink_to(outside)
    record.write_text(
        record.read_text() + "acme_core/link.py,sha256=AAAA,1\n/etc/passwd,sha256=AAAA,1\n"
    )
    report = audit(rig)
    core = report.packages[0]
    assert core.verdict.value == "mismatch"
    assert "acme_core/link.py (links outside the environment; not read)" in core.files
    assert "/etc/passwd (outside the environment; not read)" in core.files
    entry = next(f for f in report.files if f.kind.value == "record-entry")
    assert (entry.path, entry.root, entry.owners) == ("/etc/passwd", "outside", ("acme-core",))


def test_an_extra_module_listed_in_the_installed_record_is_not_in_the_wheel(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    record = unpack(rig, "acme-core")
    (rig.site / "acme_core" / "extra.py").write_text("")
    digest = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"  # sha256 of b""
    record.write_text(record.read_text() + f"acme_core/extra.py,sha256={digest},0\n")
    report = audit(rig)
    assert report.packages[0].files == (
        "acme_core/extra.py (not in acme_core-1.1.0-py3-none-any.whl)",
    )


def test_without_range_support_the_wheel_is_downloaded(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    unpack(rig, "acme-core")
    rig.transport.ranges = False
    report = audit(rig)
    assert report.packages[0].verdict.value == "verified"
    assert report.packages[0].record_source == "download"
    assert report.transfer.downloads == 1 and report.transfer.range_bytes == 0
