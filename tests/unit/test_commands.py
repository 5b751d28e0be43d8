"""Commands end to end over the fakes: install, explain, check, lock, sync, and a secret sweep."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from pipx_secure.commands import check, explain, install, lock, sync
from pipx_secure.errors import IntegrityError, UsageError
from pipx_secure.install.provenance import read_provenance
from pipx_secure.model.plan import Pin
from tests.support.packages import build_wheel
from tests.unit.fakes import (
    PRIVATE_URL,
    PUBLIC_URL,
    SECRET,
    SECRET_B64,
    Request,
    Rig,
    make_rig,
    sha256_of,
)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOTS = ("acme-utils", "publicdep")


def install_settings(rig: Rig, *reqs: str, **changes: object) -> install.InstallSettings:
    settings = install.InstallSettings(requirements=reqs or ROOTS, map_path=rig.map_path)
    return install.InstallSettings(**{**settings.__dict__, **changes})


def pins(found: Iterable[Pin]) -> set[tuple[str, str, str]]:
    return {(p.name, str(p.version), p.index) for p in found}


EXPECTED = {
    ("acme-core", "1.1.0", "private"),
    ("acme-utils", "1.0.0", "private"),
    ("publicdep", "1.0.0", "public"),
}


# -- install ----------------------------------------------------------------------------------


def test_install_routes_resolves_and_installs(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = install.run(install_settings(rig), rig.services)
    assert pins(result.installed) == EXPECTED
    assert result.plan is not None and pins(result.plan.pins) == EXPECTED
    assert {(p.name, p.requested) for p in result.plan.pins} == {
        ("acme-core", False),
        ("acme-utils", True),
        ("publicdep", True),
    }
    assert rig.installed() == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "publicdep": "1.0.0"}
    assert {name for index, name in rig.transport.asked("page") if index == "public"} == {
        "publicdep"
    }
    assert {name for index, name in rig.transport.asked("page") if index == "private"} == {
        "acme-core",
        "acme-utils",
    }
    assert any("resolved 3 package(s) from private, public" in n for n in rig.reporter.notes)
    assert rig.transport.closed == rig.transport.opened == 1


def test_second_install_takes_the_fast_path_without_any_request(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install.run(install_settings(rig), rig.services)
    requests, spawned = len(rig.transport.requests), len(rig.processes.calls)
    again = install.run(install_settings(rig), rig.services)
    assert again.fast_path is True and again.installed == ()
    assert len(rig.transport.requests) == requests and rig.transport.opened == 1
    assert len(rig.processes.calls) == spawned  # the probe's facts came from the cache


def test_install_of_a_private_name_never_takes_the_public_impostor(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = install.run(install_settings(rig, "acme-core"), rig.services)
    assert pins(result.installed) == {("acme-core", "1.1.0", "private")}
    assert {r.index for r in rig.transport.requests} == {"private"}


def test_dry_run_spawns_no_pip(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = install.run(install_settings(rig, dry_run=True), rig.services)
    assert result.dry_run is True and result.installed == ()
    assert result.plan is not None and pins(result.plan.pins) == EXPECTED
    assert [c.kind for c in rig.processes.calls] == ["probe"]
    assert rig.installed() == {}
    assert not (rig.prefix / "spip-provenance.json").exists()


def test_report_to_stdout_is_json_with_each_index(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = install.run(install_settings(rig, report=Path("-"), dry_run=True), rig.services)
    assert result.report_text is not None
    report = json.loads(result.report_text)
    assert report["version"] == "1"
    items = {item["metadata"]["name"]: item for item in report["install"]}
    assert sorted(items) == ["acme-core", "acme-utils", "publicdep"]
    assert (items["acme-core"]["index"], items["acme-core"]["index_name"]) == (
        PRIVATE_URL,
        "private",
    )
    assert (items["publicdep"]["index"], items["publicdep"]["index_name"]) == (
        PUBLIC_URL,
        "public",
    )
    assert items["acme-utils"]["metadata"]["requires_dist"] == ["acme-core>=1.0"]
    assert items["acme-utils"]["requested"] is True and items["acme-core"]["requested"] is False
    wheel = rig.root / "files" / "private" / "acme_core-1.1.0-py3-none-any.whl"
    assert items["acme-core"]["download_info"]["archive_info"]["hashes"] == {
        "sha256": sha256_of(wheel)
    }
    assert report["environment"]["sys_platform"] == "linux"


def test_report_to_a_file_writes_it_and_returns_no_text(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    out = tmp_path / "report.json"
    result = install.run(install_settings(rig, report=out, dry_run=True), rig.services)
    assert result.report_text is None
    assert {i["index_name"] for i in json.loads(out.read_text())["install"]} == {
        "private",
        "public",
    }


# -- explain ----------------------------------------------------------------------------------


def test_explain_names_the_index_and_the_rule(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    result = explain.run(
        explain.ExplainSettings(("ACME_Utils", "six-lite"), rig.map_path), rig.services
    )
    assert result.exit_code == 0
    private, public = result.lines
    assert private.startswith(f"acme-utils -> private ({PRIVATE_URL}): pattern rule 'acme-*'")
    assert public == (
        f"six-lite -> public ({PUBLIC_URL}): no rule matches; the default index serves it"
    )


def test_explain_on_a_strict_map_reports_the_unrouted_name(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, strict=True)
    result = explain.run(
        explain.ExplainSettings(("acme-core", "six-lite"), rig.map_path), rig.services
    )
    assert result.exit_code == 3
    assert result.lines[0].startswith("acme-core -> private")
    assert result.lines[1].startswith("six-lite -> (none):")
    assert rig.transport.opened == 0  # explain asks no index


# -- check ------------------------------------------------------------------------------------


def test_check_reports_extra_index_url_and_unused_rule(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, extra_rules={"legacy-tool": "private"})
    bad = tmp_path / "bad.txt"
    bad.write_text("six-lite==1.16.0\n--extra-index-url https://mirror.example/simple/\n")
    good = tmp_path / "good.txt"
    good.write_text("acme-utils==1.0.0\n")
    report = check.run(check.CheckSettings((bad, good), rig.map_path), rig.services)
    found = {(f.kind, f.severity, f.location) for f in report.findings}
    assert ("requirement-file", "error", f"{bad}:2") in found
    unused = [f for f in report.findings if f.kind == "unused-rule"]
    assert [(f.severity, f.index) for f in unused] == [("warning", "private")]
    assert "'legacy-tool'" in unused[0].message
    assert report.exit_code == 1
    data = report.to_json()
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["map"]["indexes"] == {"private": PRIVATE_URL, "public": PUBLIC_URL}
    assert rig.transport.opened == 0  # offline check asks no index


def test_check_with_only_warnings_passes(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, extra_rules={"legacy-tool": "private"})
    good = tmp_path / "good.txt"
    good.write_text("acme-utils==1.0.0\nsix-lite\n")
    report = check.run(check.CheckSettings((good,), rig.map_path), rig.services)
    assert [f.kind for f in report.findings] == ["unused-rule"]
    assert report.exit_code == 0 and report.to_json()["ok"] is True


# -- lock and sync ----------------------------------------------------------------------------


def lock_settings(rig: Rig, *reqs: str) -> lock.LockSettings:
    return lock.LockSettings(
        requirements=reqs or ROOTS, output=rig.root / "pylock.toml", map_path=rig.map_path
    )


def test_lock_writes_pep751_with_each_index_and_relocking_is_unchanged(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    first = lock.run(lock_settings(rig), rig.services)
    assert (first.packages, first.changed) == (3, True)
    text = first.output.read_text()
    data = tomllib.loads(text)
    parsed = Pylock.from_dict(data)
    by_name = {p.name: p for p in parsed.packages}
    assert sorted(by_name) == ["acme-core", "acme-utils", "publicdep"]
    assert by_name["acme-core"].index == PRIVATE_URL
    assert by_name["acme-utils"].index == PRIVATE_URL
    assert by_name["publicdep"].index == PUBLIC_URL
    wheel = rig.root / "files" / "private" / "acme_core-1.1.0-py3-none-any.whl"
    core_wheels = by_name["acme-core"].wheels or []
    assert [w.hashes for w in core_wheels] == [{"sha256": sha256_of(wheel)}]
    assert rig.processes.of_kind("pip-install") == []
    second = lock.run(lock_settings(rig), rig.services)
    assert second.changed is False and second.packages == 3
    assert second.output.read_text() == text


def test_sync_installs_what_the_lock_selects(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    lock.run(lock_settings(rig), rig.services)
    result = sync.run(sync.SyncSettings(rig.root / "pylock.toml", rig.map_path), rig.services)
    assert pins(result.installed) == EXPECTED
    assert rig.installed() == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "publicdep": "1.0.0"}
    assert read_provenance(rig.prefix)["acme-core"].index_url == PRIVATE_URL


def test_sync_refuses_a_lock_whose_hash_the_index_no_longer_serves(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    lock.run(lock_settings(rig), rig.services)
    path = rig.root / "pylock.toml"
    wheel = rig.root / "files" / "private" / "acme_core-1.1.0-py3-none-any.whl"
    path.write_text(path.read_text().replace(sha256_of(wheel), "0" * 64))
    with pytest.raises(IntegrityError, match="differs from what index private publishes"):
        sync.run(sync.SyncSettings(path, rig.map_path), rig.services)
    assert rig.processes.of_kind("pip-install") == []
    assert rig.installed() == {}


# -- secrets ----------------------------------------------------------------------------------


def test_no_secret_reaches_any_child_result_or_file(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    results: list[object] = []
    results.append(install.run(install_settings(rig, report=Path("-")), rig.services))
    results.append(lock.run(lock_settings(rig), rig.services))
    results.append(explain.run(explain.ExplainSettings(ROOTS, rig.map_path), rig.services))
    results.append(check.run(check.CheckSettings((), rig.map_path), rig.services).to_json())
    # The secret was really in play: every private request carried the credential.
    private = [r for r in rig.transport.requests if r.index == "private"]
    assert private and all(r.authenticated for r in private)
    haystack: list[str] = [repr(r) for r in results]
    for call in rig.processes.calls:
        haystack += [*call.argv, *call.env.keys(), *call.env.values(), call.input or ""]
    haystack += rig.processes.requirement_texts + rig.reporter.notes
    written = [f for f in rig.prefix.rglob("*") if f.is_file()] + [rig.root / "pylock.toml"]
    haystack += [f.read_text(errors="replace") for f in written]
    assert len(rig.processes.calls) >= 3 and len(haystack) > 20
    for needle in (SECRET, SECRET_B64):
        assert [h for h in haystack if needle in h] == []


# -- more install paths -----------------------------------------------------------------------


def test_install_refuses_a_hash_the_index_does_not_serve(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    requirements = tmp_path / "req.txt"
    requirements.write_text(f"acme-core==1.1.0 --hash=sha256:{'0' * 64}\n")
    settings = install_settings(rig, requirements=(), requirement_files=(requirements,))
    with pytest.raises(IntegrityError, match="matches none of the --hash values"):
        install.run(settings, rig.services)
    assert rig.processes.of_kind("pip-install") == []


def test_require_hashes_needs_every_dependency_pinned_with_a_hash(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    wheel = rig.root / "files" / "private" / "acme_utils-1.0.0-py3-none-any.whl"
    requirements = tmp_path / "req.txt"
    requirements.write_text(
        f"--require-hashes\nacme-utils==1.0.0 --hash=sha256:{sha256_of(wheel)}\n"
    )
    settings = install_settings(rig, requirements=(), requirement_files=(requirements,))
    with pytest.raises(UsageError, match=r"acme-core 1\.1\.0 needs a requirement pinned"):
        install.run(settings, rig.services)
    assert rig.processes.of_kind("pip-install") == []


def test_impostor_installed_by_another_tool_is_replaced(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.processes.put("acme-core", "99.0.0")  # by another tool: no provenance
    result = install.run(install_settings(rig, "acme-core"), rig.services)
    assert result.fast_path is False
    assert pins(result.installed) == {("acme-core", "1.1.0", "private")}
    assert rig.installed() == {"acme-core": "1.1.0"}


def test_sync_exact_uninstalls_what_the_lock_does_not_name(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.processes.put("stray", "1.0")
    rig.processes.put("pip", "24.2")
    lock.run(lock_settings(rig, "acme-core"), rig.services)
    result = sync.run(
        sync.SyncSettings(rig.root / "pylock.toml", rig.map_path, exact=True), rig.services
    )
    assert result.uninstalled == ("stray",)
    (uninstall,) = rig.processes.of_kind("pip-uninstall")
    after = uninstall.argv[uninstall.argv.index("uninstall") + 1 :]
    assert [a for a in after if not a.startswith("-")] == ["stray"]
    assert rig.installed() == {"acme-core": "1.1.0", "pip": "24.2"}


def test_lock_for_a_described_platform_starts_no_process(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    settings = lock.LockSettings(
        requirements=("acme-utils",),
        output=rig.root / "pylock.toml",
        map_path=rig.map_path,
        python_version="3.12",
        platforms=("manylinux_2_17_x86_64", "win_amd64"),
    )
    result = lock.run(settings, rig.services)
    assert result.packages == 2
    assert rig.processes.calls == []
    data = tomllib.loads(result.output.read_text())
    assert {p["index"] for p in data["packages"]} == {PRIVATE_URL}


def test_allowed_direct_url_wheel_is_fetched_anonymously_and_recorded(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "direct", "acme-tool", "1.0", requires=["acme-core<1.1"])
    url = f"https://git.example/files/{wheel.name}"
    rig = make_rig(tmp_path, direct={url: wheel})
    text = f"acme-tool @ {url}#sha256={sha256_of(wheel)}"
    result = install.run(install_settings(rig, text), rig.services)
    assert pins(result.installed) == {
        ("acme-core", "1.0.0", "private"),
        ("acme-tool", "1.0", "local"),
    }
    assert [r for r in rig.transport.requests if r.what == "url"] == [
        Request("direct-url", "url", url, authenticated=False)
    ]
    record = json.loads((rig.site / "acme_tool-1.0.dist-info" / "direct_url.json").read_text())
    assert record == {"url": url, "archive_info": {"hashes": {"sha256": sha256_of(wheel)}}}


def test_direct_url_with_the_wrong_hash_is_refused_before_pip(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "direct", "acme-tool", "1.0")
    url = f"https://git.example/files/{wheel.name}"
    rig = make_rig(tmp_path, direct={url: wheel})
    with pytest.raises(IntegrityError, match="hash mismatch"):
        install.run(install_settings(rig, f"acme-tool @ {url}#sha256={'1' * 64}"), rig.services)
    assert rig.processes.of_kind("pip-install") == []
