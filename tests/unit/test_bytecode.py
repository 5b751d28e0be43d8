"""Bytecode once, through the fakes: the cache by source hash, its seals, the headers Python
accepts, RECORD rows, and the installer groups.  The fake target is this interpreter, so the
``.pyc`` files written here are checked with the import system's own rules."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import marshal
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipx_secure.install import bytepack
from pipx_secure.install.apply import InstallOutcome, apply
from pipx_secure.install.groups import install_groups
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.install.pycache import Compiled, add_record_rows, pyc_bytes
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.install.workspace import Workspace
from pipx_secure.model.hashes import Digest
from pipx_secure.resolve.models import Req
from tests.unit.fakes import Rig, make_rig

TAG = importlib.util.cache_from_source("x.py").rsplit(".", 2)[-2]


@contextmanager
def workspace(rig: Rig) -> Iterator[Workspace]:
    transport = rig.services.transport()
    found = Workspace(
        rig.services.load_map(rig.map_path), rig.target(), transport, rig.cache, rig.processes
    )
    try:
        yield found
    finally:
        found.close()
        transport.close()


def install(rig: Rig, *names: str, options: PipOptions | None = None) -> InstallOutcome:
    with workspace(rig) as ws:
        reqs = [Req.from_requirement(Requirement(n)) for n in names or ("acme-utils",)]
        return apply(ws, ws.resolve(reqs), options or PipOptions())


def uninstall_all(rig: Rig) -> None:
    """Empty the fake site-packages (a new environment, the same cache)."""
    for path in sorted(rig.site.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


def pyc_of(rig: Rig, module: str) -> Path:
    return rig.site / module / "__pycache__" / f"__init__.{TAG}.pyc"


def assert_python_accepts(pyc: Path, source: Path) -> None:
    """The import system's own checks: magic, flags, and the timestamp or hash."""
    data = pyc.read_bytes()
    flags = importlib._bootstrap_external._classify_pyc(data, "m", {})
    if flags & 0b1:
        assert data[8:16] == importlib.util.source_hash(source.read_bytes())
    else:
        stat = source.stat()
        importlib._bootstrap_external._validate_timestamp_pyc(
            data, int(stat.st_mtime), stat.st_size, "m", {}
        )
    fresh = compile(source.read_bytes(), "x", "exec", dont_inherit=True)
    assert marshal.loads(data[16:]).co_code == fresh.co_code


def test_pyc_files_are_written_valid_and_listed_in_record(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    for module in ("acme_core", "acme_utils"):
        pyc = pyc_of(rig, module)
        assert_python_accepts(pyc, rig.site / module / "__init__.py")
        assert pyc.read_bytes()[8:12] == int(
            (rig.site / module / "__init__.py").stat().st_mtime
        ).to_bytes(4, "little")  # a timestamp header, as pip writes by default
        (record,) = rig.site.glob(f"{module}-*.dist-info/RECORD")
        rows = {row[0]: row for row in csv.reader(io.StringIO(record.read_text())) if row}
        relative = f"{module}/__pycache__/__init__.{TAG}.pyc"
        digest = hashlib.sha256(pyc.read_bytes()).digest()
        import base64

        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert rows[relative] == [relative, f"sha256={expected}", str(pyc.stat().st_size)]


def test_a_second_install_compiles_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    first = pyc_of(rig, "acme_core").read_bytes()[16:]
    assert len(rig.processes.of_kind("compile")) == 1
    uninstall_all(rig)
    install(rig)
    assert len(rig.processes.of_kind("compile")) == 1  # everything came from the cache
    assert pyc_of(rig, "acme_core").read_bytes()[16:] == first


def test_source_date_epoch_gives_checked_hash_pycs(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, extra_env={"SOURCE_DATE_EPOCH": "315532800"})
    install(rig)
    data = pyc_of(rig, "acme_core").read_bytes()
    assert int.from_bytes(data[4:8], "little") == 0b11  # checked hash, as py_compile does
    assert_python_accepts(pyc_of(rig, "acme_core"), rig.site / "acme_core" / "__init__.py")


def _entries(rig: Rig) -> list[Path]:
    """The cache's bytecode packs (one per wheel)."""
    root = rig.cache.root / "bytecode"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name == "packs")


def test_a_forged_pack_is_discarded_and_compiled_again(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    evil = b"C" + bytes(8) + marshal.dumps(compile("EVIL = 1\n", "x", "exec"))
    for pack in _entries(rig):  # the seal line kept, what it seals replaced
        seal, _, body = pack.read_bytes().partition(b"\n")
        forged = [replace(e, payload=evil) for e in bytepack.parse(body)]
        pack.write_bytes(seal + b"\n" + bytepack.join(forged))
    uninstall_all(rig)
    install(rig)
    assert len(rig.processes.of_kind("compile")) == 2
    code = marshal.loads(pyc_of(rig, "acme_core").read_bytes()[16:])
    assert "EVIL" not in code.co_names


def test_a_pack_moved_to_another_wheels_digest_is_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig)
    packs = _entries(rig)
    assert len(packs) == 2  # acme-core's wheel and acme-utils'
    packs[0].write_bytes(packs[1].read_bytes())  # a genuine seal, for another wheel
    uninstall_all(rig)
    install(rig)
    assert len(rig.processes.of_kind("compile")) == 2
    for module in ("acme_core", "acme_utils"):
        assert_python_accepts(pyc_of(rig, module), rig.site / module / "__init__.py")


def test_pack_records_round_trip_and_malformed_bytes_are_refused() -> None:
    entries = [
        bytepack.Entry("sha256:" + "a" * 64, "pkg/m\u00e9.py", "pkg/m\u00e9.py", "b" * 64, b"F"),
        bytepack.Entry("", "x.py", "", "c" * 64, b"C" + bytes(8) + b"code"),
    ]
    data = bytepack.join(entries)
    assert list(bytepack.parse(data)) == entries
    assert list(bytepack.parse(b"")) == []
    from pipx_secure.install.bytecode_child import record

    assert record(
        *(getattr(entries[0], f) for f in ("key", "name", "member", "sha256", "payload"))
    ) == (entries[0].encode())
    bad_hash = bytepack.Entry("", "x.py", "", "Z" * 64, b"F").encode()
    bad_name = bytepack.Entry("", "x.py", "", "c" * 64, b"F").encode().replace(b"x.py", b"\xff.py")
    for broken in (data[:-1], data[:10], data + b"\0", bad_hash, bad_name):
        with pytest.raises(bytepack.MalformedPack):
            list(bytepack.parse(broken))


def test_a_source_that_does_not_compile_gets_no_pyc_and_is_not_compiled_twice(
    tmp_path: Path,
) -> None:
    from tests.support.packages import build_wheel
    from tests.unit.fakes import PRIVATE_URL, standard_catalogue

    catalogue = standard_catalogue(tmp_path / "files")
    broken = build_wheel(
        tmp_path / "files" / "private",
        "acme-broken",
        "1.0.0",
        modules={"acme_broken/bad.py": "def broken(:\n"},
    )
    catalogue[PRIVATE_URL]["acme-broken"] = [broken]
    rig = make_rig(tmp_path, catalogue)
    install(rig, "acme-broken")
    assert (rig.site / "acme_broken" / "bad.py").exists()
    assert pyc_of(rig, "acme_broken").exists()
    assert not (rig.site / "acme_broken" / "__pycache__" / f"bad.{TAG}.pyc").exists()
    uninstall_all(rig)
    install(rig, "acme-broken")
    assert len(rig.processes.of_kind("compile")) == 1


def test_no_compile_spawns_no_compiler_and_writes_no_pyc(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    install(rig, options=PipOptions(compile=False))
    assert rig.processes.of_kind("compile") == [] and list(rig.site.rglob("*.pyc")) == []


def test_pyc_header_layouts() -> None:
    compiled = Compiled(b"12345678", b"CODE")
    info = os.stat_result((0o644, 0, 0, 1, 0, 0, 300, 0, 1_700_000_000, 0))
    stamp = pyc_bytes(b"MAGI", compiled, info, checked=False)
    assert (
        stamp
        == b"MAGI"
        + bytes(4)
        + (1_700_000_000).to_bytes(4, "little")
        + (300).to_bytes(4, "little")
        + b"CODE"
    )
    assert pyc_bytes(b"MAGI", compiled, info, checked=True) == (
        b"MAGI" + (3).to_bytes(4, "little") + b"12345678CODE"
    )
    assert Compiled.from_payload(b"F") is None
    assert Compiled.from_payload(b"C12345678CODE") == compiled


def test_record_rows_are_merged_in_pips_layout(tmp_path: Path) -> None:
    record = tmp_path / "RECORD"
    record.write_bytes(b"a/x.py,sha256=AAA,3\r\nd-1.dist-info/RECORD,,\r\n")
    add_record_rows(record, [("a/__pycache__/x.tag.pyc", "sha256=BBB", "9")])
    assert record.read_bytes() == (
        b"a/__pycache__/x.tag.pyc,sha256=BBB,9\r\na/x.py,sha256=AAA,3\r\nd-1.dist-info/RECORD,,\r\n"
    )
    unsorted = tmp_path / "UNSORTED"
    unsorted.write_bytes(b"z.py,,\na.py,,\n")
    add_record_rows(unsorted, [("m.pyc", "sha256=C", "1"), ("z.py", "", "")])
    assert unsorted.read_bytes() == b"z.py,,\na.py,,\nm.pyc,sha256=C,1\n"


def _wheel(tmp_path: Path, name: str, size: int) -> WheelFile:
    path = tmp_path / f"{name}-1.0-py3-none-any.whl"
    path.write_bytes(b"x" * size)
    return WheelFile(canonicalize_name(name), "1.0", path, Digest("sha256", "0" * 64))


def test_groups_keep_wheels_sharing_a_file_together_and_balance_sizes(tmp_path: Path) -> None:
    wheels = [_wheel(tmp_path, f"w{i}", 1000 * (i + 1)) for i in range(10)]
    paths = {w.name: [f"{w.name}/__init__.py"] for w in wheels}
    paths[wheels[0].name].append("tests/__init__.py")
    paths[wheels[9].name].append("tests/__init__.py")
    groups = install_groups(wheels, paths, replacing=False, cores=2)
    assert len(groups) == 2
    assert sorted(w.name for g in groups for w in g) == sorted(w.name for w in wheels)
    (together,) = [g for g in groups if wheels[0] in g]
    assert wheels[9] in together
    sizes = [sum(w.path.stat().st_size for w in g) for g in groups]
    assert abs(sizes[0] - sizes[1]) <= 10_000


@pytest.mark.parametrize(
    ("count", "replacing", "cores"), [(10, True, 2), (5, False, 2), (10, False, 1)]
)
def test_one_group_when_splitting_cannot_help(
    tmp_path: Path, count: int, replacing: bool, cores: int
) -> None:
    wheels = [_wheel(tmp_path, f"w{i}", 10) for i in range(count)]
    groups = install_groups(wheels, {}, replacing=replacing, cores=cores)
    assert groups == [wheels]


def test_a_wheel_that_is_not_the_verified_one_is_not_compiled(tmp_path: Path) -> None:
    from pipx_secure.install.bytecode import Bytecode
    from tests.support.packages import build_wheel

    rig = make_rig(tmp_path)
    wheel = build_wheel(
        tmp_path / "w", "acme-swapped", "1.0.0", modules={"acme_swapped/x.py": "X=1\n"}
    )
    verified = Digest("sha256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    build_wheel(tmp_path / "w", "acme-swapped", "1.0.0", modules={"acme_swapped/x.py": "X=2\n"})
    bytecode = Bytecode(rig.target(), rig.cache, rig.processes)
    try:
        bytecode.add_wheel(WheelFile(canonicalize_name("acme-swapped"), "1.0.0", wheel, verified))
        bytecode.finish()
    finally:
        bytecode.close()
    assert len(rig.processes.of_kind("compile")) == 1  # asked, and the child refused
    assert bytecode.compiled == 0 and _entries(rig) == []
    assert rig.cache.read_bytecode(bytecode.flavour, verified) is None


def test_wheels_downloaded_during_resolution_compile_then_and_only_once(tmp_path: Path) -> None:
    from pipx_secure.install.apply import early_bytecode

    rig = make_rig(tmp_path)
    with workspace(rig) as ws:
        bytecode = early_bytecode(ws, PipOptions())
        assert bytecode is not None
        try:
            resolution = ws.resolve([Req.from_requirement(Requirement("acme-utils"))])
            bytecode.finish()
            compiled = len(rig.processes.of_kind("compile"))
            assert compiled >= 1 and bytecode.compiled >= 2  # before any install
            apply(ws, resolution, PipOptions(), bytecode=bytecode)
        finally:
            bytecode.close()
    assert len(rig.processes.of_kind("compile")) == compiled  # not compiled a second time
    assert_python_accepts(pyc_of(rig, "acme_core"), rig.site / "acme_core" / "__init__.py")


def test_no_early_compiler_when_spip_does_not_write_bytecode(tmp_path: Path) -> None:
    from pipx_secure.install.apply import early_bytecode

    rig = make_rig(tmp_path)
    with workspace(rig) as ws:
        assert early_bytecode(ws, PipOptions(compile=False)) is None
        assert early_bytecode(ws, PipOptions(target_dir=str(tmp_path / "t"))) is None
        assert ws.metadata.on_wheel is None


def test_a_wheel_added_twice_is_compiled_once(tmp_path: Path) -> None:
    from pipx_secure.install.bytecode import Bytecode
    from tests.support.packages import build_wheel

    rig = make_rig(tmp_path)
    modules = {"acme_twice/a.py": "A = 1\n", "acme_twice/b.py": "B = 2\n"}
    wheel = build_wheel(tmp_path / "w", "acme-twice", "1.0.0", modules=modules)
    digest = Digest("sha256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    bytecode = Bytecode(rig.target(), rig.cache, rig.processes)
    try:
        for _ in range(2):  # by resolution (for its metadata), then by the fetch
            bytecode.add_wheel(WheelFile(canonicalize_name("acme-twice"), "1.0.0", wheel, digest))
        bytecode.finish()
    finally:
        bytecode.close()
    import zipfile

    sources = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")]
    assert len(sources) >= 2 and bytecode.compiled == len(sources)


def test_timings_give_each_phase_its_union_and_window(tmp_path: Path) -> None:
    import json

    from pipx_secure.install.phases import Phases

    phases = Phases()
    base = phases._origin
    phases.add("compile", base + 1.0, base + 3.0)
    phases.add("compile", base + 2.0, base + 4.0)  # overlaps: counted once
    phases.add("compile", base + 6.0, base + 7.0)
    phases.add("install", base + 2.5, base + 5.0)
    assert phases.totals() == pytest.approx({"compile": 4.0, "install": 2.5})
    assert phases.windows() == {"compile": (1.0, 7.0), "install": (2.5, 5.0)}
    out = tmp_path / "timings.jsonl"
    phases.write({"SPIP_TIMINGS": str(out)})
    phases.write({})  # nothing without the variable
    (line,) = out.read_text().splitlines()
    record = json.loads(line)
    assert record["windows"]["compile"] == [1.0, 7.0] and record["phases"]["install"] == 2.5
    assert record["cpu_self"] > 0
