"""Fetch, then one offline pip run: argv, requirements file, child env, provenance, failures."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from pipx_secure.errors import InstallError, IntegrityError
from pipx_secure.install.apply import InstallOutcome, apply
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.install.provenance import read_provenance
from pipx_secure.install.workspace import Workspace
from pipx_secure.model.hashes import Digest
from pipx_secure.model.reqline import parse_cli_requirement
from pipx_secure.resolve.models import Req
from pipx_secure.resolve.planner import Resolution
from pipx_secure.resolve.sources import classify
from tests.support.packages import build_wheel
from tests.unit.fakes import (
    PRIVATE_URL,
    PUBLIC_URL,
    SECRET,
    SECRET_B64,
    USERNAME,
    Rig,
    make_rig,
    sha256_of,
)

ROOTS = ("acme-utils", "publicdep")


@contextmanager
def workspace(rig: Rig) -> Iterator[Workspace]:
    transport = rig.services.transport()
    source_map = rig.services.load_map(rig.map_path)
    found = Workspace(source_map, rig.target(), transport, rig.cache, rig.processes)
    try:
        yield found
    finally:
        found.close()
        transport.close()


def install(rig: Rig, *texts: str, options: PipOptions | None = None) -> InstallOutcome:
    with workspace(rig) as ws:
        return apply(ws, resolve_in(ws, *texts), options or PipOptions())


def resolve_in(ws: Workspace, *texts: str) -> Resolution:
    return ws.resolve([Req.from_requirement(Requirement(t)) for t in texts or ROOTS])


def test_pip_runs_once_offline_over_the_wheelhouse(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    (pip,) = rig.processes.of_kind("pip-install")
    argv = list(pip.argv)
    for flag in (
        "--isolated",
        "--no-index",
        "--require-hashes",
        "--no-deps",
        "--no-input",
        "--no-warn-conflicts",
    ):
        assert flag in argv
    assert argv[argv.index("--only-binary") + 1] == ":all:"
    # spip's own pip, started by the target interpreter itself (not twice through --python).
    assert argv[0] == str(rig.python) and argv[1].endswith("pip/__pip-runner__.py")
    assert "--no-compile" in argv  # spip compiles afterwards, in parallel
    assert not any("://" in arg for arg in argv)
    assert not any(a.startswith(("--index-url", "--extra-index-url", "-i")) for a in argv)
    assert rig.processes.wheelhouses == [
        sorted(
            [
                "acme_core-1.1.0-py3-none-any.whl",
                "acme_utils-1.0.0-py3-none-any.whl",
                "publicdep-1.0.0-py3-none-any.whl",
            ]
        )
    ]


def test_requirements_file_pins_every_plan_entry_with_its_hash(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    outcome = install(rig)
    (text,) = rig.processes.requirement_texts
    lines = [x for x in text.splitlines() if x and not x.startswith("#")]
    assert lines == sorted(
        f"{p.name}=={p.version} --hash=sha256:{p.digest.hexdigest}" for p in outcome.plan.pins
    )
    files = rig.root / "files"
    assert f"--hash=sha256:{sha256_of(files / 'private/acme_core-1.1.0-py3-none-any.whl')}" in text
    assert [p.name for p in outcome.installed] == ["acme-core", "acme-utils", "publicdep"]
    assert rig.installed() == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "publicdep": "1.0.0"}


def test_children_get_no_pip_settings_python_path_or_secret(tmp_path: Path) -> None:
    leaked = f"https://{USERNAME}:{SECRET}@private.example/simple/"
    rig = make_rig(tmp_path, extra_env={"CI_PRIVATE_MIRROR": leaked})
    install(rig)
    kinds = [c.kind for c in rig.processes.calls]
    # The compiler starts as soon as the wheels are verified, beside the installer.
    assert kinds[0] == "probe" and sorted(kinds[1:]) == ["compile", "pip-install"]
    (pip,) = rig.processes.of_kind("pip-install")
    # A variable carrying the password spip looked up is dropped (the probe ran before it).
    assert "CI_PRIVATE_MIRROR" not in pip.env
    for call in rig.processes.calls:
        for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PYTHONPATH", "VIRTUAL_ENV"):
            assert name not in call.env
        assert not [k for k in call.env if k.startswith("SPIP_")]
        assert call.env["PIP_CONFIG_FILE"] == os.devnull
        assert call.env["PYTHONNOUSERSITE"] == "1"
    for call in (pip, *rig.processes.of_kind("compile")):
        assert not [k for k, v in call.env.items() if SECRET in v or SECRET_B64 in v]
        assert SECRET not in " ".join(call.argv) and SECRET_B64 not in " ".join(call.argv)


def test_provenance_records_index_and_sha256_in_the_prefix(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    outcome = install(rig)
    data = json.loads((rig.prefix / "spip-provenance.json").read_text())
    assert data["schema"] == 1
    entries = read_provenance(rig.prefix)
    assert sorted(entries) == ["acme-core", "acme-utils", "publicdep"]
    for pin in outcome.plan.pins:
        entry = entries[pin.name]
        assert (entry.version, entry.index, entry.index_url) == (
            str(pin.version),
            pin.index,
            pin.index_url,
        )
        assert entry.sha256 == pin.digest.hexdigest and entry.filename == pin.filename
        assert entry.record_sha256 is not None
    assert entries["acme-core"].index_url == PRIVATE_URL
    assert entries["publicdep"].index_url == PUBLIC_URL


def test_compiler_gets_exactly_the_verified_wheels_and_their_sources(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    (compile_call,) = rig.processes.of_kind("compile")
    request = json.loads(compile_call.input or "{}")
    assert compile_call.argv[1:3] == ("-I", "-S")
    assert request["optimize"] == 0 and request["sources"] == []
    expected = []
    for index, module, version in (
        ("private", "acme_core", "1.1.0"),
        ("private", "acme_utils", "1.0.0"),
        ("public", "publicdep", "1.0.0"),
    ):
        wheel = rig.root / "files" / index / f"{module}-{version}-py3-none-any.whl"
        source = f"{module}/__init__.py"
        # The child checks the wheel's digest before it reads a member.
        expected.append([wheel.name, "sha256", sha256_of(wheel), [[source, source]]])
    assert sorted([Path(w[0]).name, *w[1:]] for w in request["wheels"]) == expected


def test_no_compile_option_spawns_no_compiler(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig, options=PipOptions(compile=False))
    assert [c.kind for c in rig.processes.calls] == ["probe", "pip-install"]
    assert "--no-compile" in rig.processes.of_kind("pip-install")[0].argv


def test_everything_satisfied_spawns_no_pip(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    first = install(rig)
    downloads = len(rig.transport.asked("download"))
    second = install(rig)
    assert second.pip_ran is False and second.installed == ()
    assert second.satisfied == first.plan.pins
    assert len(rig.processes.of_kind("pip-install")) == 1
    assert len(rig.transport.asked("download")) == downloads


def test_pip_failure_is_an_install_error_and_records_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.processes.fail_pip("ERROR: No space left on device")
    with pytest.raises(InstallError) as info:
        install(rig)
    assert info.value.exit_code == 9
    assert "No space left on device" in info.value.message
    assert not (rig.prefix / "spip-provenance.json").exists()
    assert list(rig.site.rglob("*.pyc")) == []  # compiled into the cache only
    assert rig.installed() == {}


def test_hash_mismatch_on_download_stops_before_pip(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, pep658=True)  # resolution reads metadata files, downloads nothing
    rig.transport.serve_other_bytes("acme_core-1.1.0-py3-none-any.whl", b"not the wheel")
    with workspace(rig) as ws:
        resolution = resolve_in(ws)
        assert rig.transport.asked("download") == []
        with pytest.raises(IntegrityError) as info:
            apply(ws, resolution, PipOptions())
    assert "hash mismatch for acme_core-1.1.0-py3-none-any.whl" in info.value.message
    assert info.value.exit_code == 7
    assert rig.processes.of_kind("pip-install") == []
    digest = resolution.plan.pins[0].digest
    assert (
        rig.cache.lookup(Digest("sha256", digest.hexdigest), resolution.plan.pins[0].filename)
        is None
    )
    assert not (rig.prefix / "spip-provenance.json").exists()


def test_local_wheel_gets_direct_url_json_and_no_provenance(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    wheel = build_wheel(tmp_path / "dist", "acme-local", "3.0.0", requires=["acme-core<1.1"])
    source_map = rig.services.load_map(rig.map_path)
    source = classify(parse_cli_requirement(str(wheel), cwd=tmp_path), source_map)
    assert source is not None
    with workspace(rig) as ws:
        reqs = ws.add_sources([source])
        resolution = ws.resolve(reqs)
        outcome = apply(ws, resolution, PipOptions())
    assert {(p.name, str(p.version), p.index) for p in outcome.installed} == {
        ("acme-core", "1.0.0", "private"),
        ("acme-local", "3.0.0", "local"),
    }
    record = json.loads((rig.site / "acme_local-3.0.0.dist-info" / "direct_url.json").read_text())
    assert record == {
        "url": wheel.as_uri(),
        "archive_info": {"hashes": {"sha256": sha256_of(wheel)}},
    }
    assert (
        "acme_local-3.0.0.dist-info/direct_url.json,,"
        in (rig.site / "acme_local-3.0.0.dist-info" / "RECORD").read_text()
    )
    assert sorted(read_provenance(rig.prefix)) == ["acme-core"]
    assert ("public", "acme-local") not in rig.transport.asked("page")
