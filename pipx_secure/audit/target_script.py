"""spip-audit-target: what ``spip audit`` runs inside the audited interpreter.

Run as ``python -I -S -c <this file's text>`` through the process door, with one JSON request on
stdin and one JSON answer on stdout.  ``-S`` matters: the site module never runs, so no ``.pth``
file and no ``sitecustomize`` of the audited environment executes, and the environment's
site-packages are not on ``sys.path``; only the standard library (and, for ``probe``, spip's own
``packaging``) is imported.  It must run on every interpreter spip can target (3.8+), so it
uses the standard library only.

Requests (``op``):

- ``probe``: markers, tags, prefix, the install-scheme paths, the site directories (computed
  the way the site module would, pyvenv.cfg included, without processing ``.pth`` files);
- ``bytecode``: for each ``[pyc, source, optimize]``, whether the ``.pyc``'s code object is what
  the source compiles to (the header's timestamp or hash is ignored; the file name recorded in
  the code object too), and whether the import system would load it;
- ``venv-scripts``: write the activation scripts the interpreter's own ``venv`` module would
  write for the audited environment into a directory spip created.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import types
from typing import Any

_CODE_FIELDS = (
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_nlocals",
    "co_stacksize",
    "co_flags",
    "co_code",
    "co_names",
    "co_varnames",
    "co_freevars",
    "co_cellvars",
    "co_name",
    "co_qualname",
    "co_firstlineno",
    "co_linetable",
    "co_exceptiontable",
)


def read_regular(path: str) -> bytes:
    """The bytes of a regular file, refusing links, devices and FIFOs (OSError)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def same_code(a: Any, b: Any) -> bool:
    """Whether two compiled constants are the same, code objects compared field by field."""
    if type(a) is not type(b):
        return False
    if isinstance(a, types.CodeType):
        fields = _CODE_FIELDS if hasattr(a, "co_linetable") else (*_CODE_FIELDS, "co_lnotab")
        if any(getattr(a, f, None) != getattr(b, f, None) for f in fields):
            return False
        return same_code(a.co_consts, b.co_consts)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_code(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, complex)):
        return repr(a) == repr(b)
    if isinstance(a, frozenset):
        return len(a) == len(b) and sorted(map(repr, a)) == sorted(map(repr, b))
    return bool(a == b)


def _loaded(data: bytes, source: bytes, source_path: str) -> bool:
    """Whether the import system would use this .pyc (PEP 552 header) rather than recompile."""
    flags = int.from_bytes(data[4:8], "little")
    if flags & 0b1:
        if not flags & 0b10:
            return True  # unchecked hash-based: loaded whatever the source says
        import importlib.util

        return bool(importlib.util.source_hash(source) == data[8:16])
    info = os.stat(source_path)
    mtime = int(info.st_mtime) & 0xFFFFFFFF
    size = info.st_size & 0xFFFFFFFF
    return data[8:12] == mtime.to_bytes(4, "little") and data[12:16] == size.to_bytes(4, "little")


def compare_one(pyc: str, source_path: str, optimize: int) -> list[Any]:
    """[status, loaded, detail]: status is same, differs, foreign or unreadable."""
    import importlib.util
    import marshal

    try:
        data = read_regular(pyc)
        source = read_regular(source_path)
    except OSError as exc:
        return ["unreadable", False, str(exc)]
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return ["foreign", False, "its magic number is not this interpreter's"]
    try:
        installed = marshal.loads(data[16:])
    except Exception as exc:
        return ["differs", _loaded(data, source, source_path), f"not loadable: {exc}"]
    if not isinstance(installed, types.CodeType):
        return ["differs", _loaded(data, source, source_path), "it holds no code object"]
    try:
        fresh = compile(source, installed.co_filename, "exec", dont_inherit=True, optimize=optimize)
    except (SyntaxError, ValueError) as exc:
        return [
            "differs",
            _loaded(data, source, source_path),
            f"the source does not compile: {exc}",
        ]
    status = "same" if same_code(installed, fresh) else "differs"
    return [status, _loaded(data, source, source_path), ""]


def _pyvenv(executable: str) -> tuple[str, str] | None:
    """(prefix, pyvenv.cfg path) when ``executable`` belongs to a virtual environment."""
    exe_dir = os.path.dirname(os.path.abspath(executable))
    prefix = os.path.dirname(exe_dir)
    for directory in (exe_dir, prefix):
        config = os.path.join(directory, "pyvenv.cfg")
        if os.path.isfile(config):
            return prefix, config
    return None


def _config(path: str) -> dict[str, str]:
    values = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip().lower()] = value.strip()
    return values


def _paths(prefix: str, in_venv: bool) -> dict[str, str]:
    import sysconfig

    if not in_venv:
        return dict(sysconfig.get_paths())
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    if os.name == "nt" and scheme != "venv":
        scheme = "nt"
    keys = ("base", "platbase", "installed_base", "installed_platbase")
    return dict(sysconfig.get_paths(scheme, vars=dict.fromkeys(keys, prefix)))


def probe(packaging_root: str) -> dict[str, Any]:
    """Facts about this interpreter, computed without running the site module."""
    import site

    venv = _pyvenv(sys.executable)
    config = _config(venv[1]) if venv else {}
    prefix = venv[0] if venv else sys.prefix
    if venv:
        prefixes = [prefix]
        if config.get("include-system-site-packages", "").lower() == "true":
            prefixes += [sys.base_prefix, sys.base_exec_prefix]
        site_dirs = site.getsitepackages(prefixes)
    else:
        site_dirs = site.getsitepackages()
    stdlib_path = [p for p in sys.path if p]
    paths = _paths(prefix, venv is not None)
    for key in ("purelib", "platlib"):
        if paths.get(key) and paths[key] not in site_dirs:
            site_dirs.insert(0, paths[key])
    sys.path.insert(0, packaging_root)
    import importlib.util

    from packaging import markers, tags

    return {
        "executable": sys.executable,
        "base_executable": getattr(sys, "_base_executable", sys.executable),
        "prefix": prefix,
        "markers": markers.default_environment(),
        "tags": [str(t) for t in tags.sys_tags()],
        "site_dirs": [d for d in site_dirs if os.path.isdir(d)],
        "stdlib_path": stdlib_path,
        "paths": {k: paths.get(k, "") for k in ("purelib", "platlib", "scripts", "data")},
        "cache_tag": sys.implementation.cache_tag or "",
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "venv": {"config": venv[1], "prompt": config.get("prompt")} if venv else None,
    }


def venv_scripts(env_dir: str, out: str, prompt: str | None) -> dict[str, Any]:
    """Write what ``venv`` writes into ``env_dir``'s scripts directory, but into ``out``."""
    import ast
    import venv

    if prompt and prompt[:1] in "'\"":
        prompt = str(ast.literal_eval(prompt))
    builder = venv.EnvBuilder(prompt=prompt)
    context = builder.ensure_directories(out)
    real_name = os.path.basename(os.path.normpath(env_dir))
    if prompt is None:
        context.prompt = context.prompt.replace(context.env_name, real_name)
    context.env_dir = env_dir
    context.env_name = real_name
    exe = os.path.basename(context.env_exe)
    context.env_exe = os.path.join(env_dir, context.bin_name, exe)
    if hasattr(context, "env_exec_cmd"):
        context.env_exec_cmd = context.env_exe
    builder.setup_scripts(context)
    return {"bin": context.bin_path}


def main() -> None:
    request = json.loads(sys.stdin.read())
    op = request.get("op")
    if op == "probe":
        answer = probe(request["packaging_root"])
    elif op == "bytecode":
        answer = {"results": {i[0]: compare_one(i[0], i[1], int(i[2])) for i in request["items"]}}
    elif op == "venv-scripts":
        try:
            answer = venv_scripts(request["env_dir"], request["out"], request.get("prompt"))
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        answer = {"error": f"unknown request {op!r}"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
