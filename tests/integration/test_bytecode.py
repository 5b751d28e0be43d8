"""Bytecode once, for behaviour (never timings): a spip-installed tree equals pip's, Python uses
the ``.pyc`` files spip wrote without compiling again, and the bytecode cache is sealed code.

The wheels are made here (subpackages, a module that does not compile, a Latin-1 module, a
namespace directory shared by two distributions, data beside the code) and served by a static
index on 127.0.0.1; ten of them, so the installer runs as parallel groups on two cores.
"""

from __future__ import annotations

import csv
import io
import marshal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pipx_secure.audit.target_script import same_code
from pipx_secure.install import bytepack
from tests.support.environment import clean_env, make_venv, run_spip, site_packages
from tests.support.packages import build_wheel
from tests.support.servers import start_static_server
from tests.support.static_index import write_static_index

pytestmark = pytest.mark.slow

MODULES = {
    "pyc_demo/sub/__init__.py": "",
    "pyc_demo/sub/mod.py": "VALUE = 'genuine'\n\ndef twice(x):\n    return [x, x]\n",
    "pyc_demo/bad.py": "def broken(:\n",  # pip cannot compile it either: no .pyc
    # Written as UTF-8, read as Latin-1: two characters each (what the declaration says).
    "pyc_demo/latin.py": "# -*- coding: latin-1 -*-\nNAME = '\xe9t\xe9'\n",
    "pyc_demo/data.txt": "not code\n",
    "sharedns/one.py": "ONE = 1\n",
}


def _wheels(directory: Path) -> list[str]:
    """Ten distributions; ``pyc-demo`` is the interesting one.  Returns their pins."""
    build_wheel(directory, "pyc-demo", "1.0.0", modules=MODULES)
    build_wheel(directory, "pyc-ns-two", "1.0.0", modules={"sharedns/two.py": "TWO = 2\n"})
    for number in range(8):
        body = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(number * 20))
        build_wheel(
            directory,
            f"pyc-filler-{number}",
            "1.0.0",
            modules={f"pyc_filler_{number}/extra.py": body},
        )
    return ["pyc-demo==1.0.0", "pyc-ns-two==1.0.0"] + [f"pyc-filler-{n}==1.0.0" for n in range(8)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, Path, list[str]]]:
    wheels = tmp_path / "wheels"
    pins = _wheels(wheels)
    write_static_index(wheels, tmp_path / "static")
    server = start_static_server(tmp_path / "static", tmp_path / "static-server")
    spip_map = tmp_path / "spip.toml"
    spip_map.write_text(f'default = "static"\n[indexes.static]\nurl = "{server.url}"\n')
    try:
        yield spip_map, wheels, pins
    finally:
        server.stop()


def _spip(env: dict[str, str], spip_map: Path, venv: Path, pins: list[str]) -> str:
    argv = ["install", "--map", str(spip_map), "--python", str(venv), *pins]
    result = run_spip(argv, env)
    assert result.returncode == 0, result.stderr
    return result.stderr


def _record(site: Path, name: str) -> dict[str, tuple[str, str]]:
    (dist_info,) = site.glob(f"{name}-*.dist-info")
    text = (dist_info / "RECORD").read_text(encoding="utf-8")
    return {row[0]: (row[1], row[2]) for row in csv.reader(io.StringIO(text)) if row}


def _code(pyc: Path) -> object:
    return marshal.loads(pyc.read_bytes()[16:])


def test_spip_tree_equals_pips_and_python_uses_its_bytecode(
    served: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    spip_map, wheels, pins = served
    env = clean_env(tmp_path)
    by_spip, by_pip = make_venv(tmp_path / "spip"), make_venv(tmp_path / "pip")
    _spip(env, spip_map, by_spip, pins)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(by_pip),
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--find-links",
            str(wheels),
            *pins,
        ],
        env=env,
        check=True,
    )
    ours, theirs = site_packages(by_spip), site_packages(by_pip)
    files = sorted(str(p.relative_to(ours)) for p in ours.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(theirs)) for p in theirs.rglob("*") if p.is_file())
    pycs = [f for f in files if f.endswith(".pyc")]
    assert "pyc_demo/sub/__pycache__/mod." + sys.implementation.cache_tag + ".pyc" in pycs
    assert not any("bad." in f for f in pycs)  # neither compiles what does not compile
    for name in files:
        if name.endswith(".pyc"):
            assert same_code(_code(ours / name), _code(theirs / name)), name
        elif not name.endswith("/RECORD"):
            assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    for dist in ("pyc_demo", "pyc_ns_two", "pyc_filler_3"):
        mine, pips = _record(ours, dist), _record(theirs, dist)
        assert sorted(mine) == sorted(pips)  # the same files, .pyc included
        for path, (digest, size) in mine.items():
            if not path.endswith(".pyc"):
                assert (digest, size) == pips[path], path
            elif digest:
                assert int(size) == (ours / path).stat().st_size
    # Python takes every .pyc as it is: nothing is compiled again on import.
    before = {name: (ours / name).stat().st_mtime_ns for name in pycs}
    code = (
        "import importlib, pyc_demo.sub.mod as m, pyc_demo.latin as l, sharedns.one, "
        "sharedns.two, pyc_filler_7.extra\n"
        "import importlib.util as u\n"
        "assert u.cache_from_source(m.__file__) == m.__cached__\n"
        "print(m.VALUE, l.NAME == '\\u00c3\\u00a9t\\u00c3\\u00a9',\n"
        "      m.twice.__code__.co_filename == m.__file__)"
    )
    run = subprocess.run(
        [str(by_spip), "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["genuine", "True", "True"]
    assert {name: (ours / name).stat().st_mtime_ns for name in pycs} == before


def test_tampered_bytecode_is_discarded_and_compiled_again_never_loaded(
    served: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    spip_map, _wheels_dir, pins = served
    env = clean_env(tmp_path)
    _spip(env, spip_map, make_venv(tmp_path / "first"), pins)
    cache = Path(env["SPIP_CACHE_DIR"]) / "bytecode"
    packs = [p for p in cache.rglob("*") if p.is_file() and p.parent.name == "packs"]
    assert len(packs) == 10  # one per wheel
    evil = b"C" + bytes(8) + marshal.dumps(compile("VALUE = 'evil'\n", "mod.py", "exec"))
    for pack in packs:  # keep each seal line, replace the code it seals
        header, _, body = pack.read_bytes().partition(b"\n")
        forged = [replace(entry, payload=evil) for entry in bytepack.parse(body)]
        pack.write_bytes(header + b"\n" + bytepack.join(forged))
    second = make_venv(tmp_path / "second")
    stderr = _spip(env, spip_map, second, pins)
    assert "bytecode in the cache failed its check and was discarded" in stderr
    run = subprocess.run(
        [str(second), "-c", "import pyc_demo.sub.mod as m; print(m.VALUE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "genuine"
    # Compiled again and sealed: a third install reads it with no warning.
    third = _spip(env, spip_map, make_venv(tmp_path / "third"), pins)
    assert "failed its check" not in third
