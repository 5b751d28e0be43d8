"""The comparison the audit runs inside the target interpreter: a .pyc is its source's code,
whatever its header says; a replaced body is caught, a stale one is told apart."""

from __future__ import annotations

import importlib.util
import marshal
import os
import py_compile
from pathlib import Path

from pipx_secure.audit.target_script import compare_one, same_code

SOURCE = '''"""Doc."""
import os

def f(x, *, y=1.5):
    assert x, "no"
    return [i for i in range(x)] + [-0.0, float("nan")]

class C:
    z = frozenset({1, 2})
'''


def compiled(tmp_path: Path, optimize: int = -1) -> tuple[Path, Path]:
    source = tmp_path / "mod.py"
    source.write_text(SOURCE)
    pyc = Path(py_compile.compile(str(source), optimize=optimize, doraise=True))
    return source, pyc


def test_the_bytecode_pip_writes_is_its_sources_code(tmp_path: Path) -> None:
    source, pyc = compiled(tmp_path)
    assert compare_one(str(pyc), str(source), 0) == ["same", True, ""]
    (tmp_path / "o2").mkdir()
    source2, pyc2 = compiled(tmp_path / "o2", 2)
    assert compare_one(str(pyc2), str(source2), 2)[0] == "same"
    assert compare_one(str(pyc2), str(source2), 0)[0] == "differs"  # wrong level is not the same


def test_a_replaced_body_with_the_header_kept_is_caught(tmp_path: Path) -> None:
    source, pyc = compiled(tmp_path)
    evil = compile(SOURCE + "print('PWNED')\n", str(source), "exec")
    pyc.write_bytes(pyc.read_bytes()[:16] + marshal.dumps(evil))
    assert compare_one(str(pyc), str(source), 0)[:2] == ["differs", True]  # and Python loads it


def test_the_recorded_file_name_does_not_matter(tmp_path: Path) -> None:
    a = compile(SOURCE, "/one/place/mod.py", "exec", dont_inherit=True)
    b = compile(SOURCE, "/another/place/mod.py", "exec", dont_inherit=True)
    assert same_code(a, b)
    assert not same_code(a, compile(SOURCE.replace("1.5", "2.5"), "x", "exec", dont_inherit=True))
    assert not same_code(0.0, -0.0)


def test_stale_and_foreign_bytecode_are_told_apart(tmp_path: Path) -> None:
    source, pyc = compiled(tmp_path)
    later = os.stat(source).st_mtime + 100
    os.utime(source, (later, later))
    assert compare_one(str(pyc), str(source), 0)[:2] == ["same", False]  # would be recompiled
    data = bytearray(pyc.read_bytes())
    data[:4] = b"\x00\x00\x0d\x0a"
    pyc.write_bytes(bytes(data))
    assert compare_one(str(pyc), str(source), 0)[0] == "foreign"
    assert bytes(data[:4]) != importlib.util.MAGIC_NUMBER


def test_unreadable_bytecode_is_never_a_crash(tmp_path: Path) -> None:
    source, pyc = compiled(tmp_path)
    pyc.write_bytes(pyc.read_bytes()[:16] + b"\xff\x00garbage")
    assert compare_one(str(pyc), str(source), 0)[0] == "differs"
    os.mkfifo(tmp_path / "fifo.pyc")
    assert compare_one(str(tmp_path / "fifo.pyc"), str(source), 0)[0] == "unreadable"
