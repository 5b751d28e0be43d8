"""The audited interpreter, asked without running any of its environment's code.

Every question goes to :mod:`pipx_secure.audit.target_script`, run by the target interpreter
with ``-I -S`` through the process door: isolated, and without the site module, so no ``.pth``
file or ``sitecustomize`` of the audited environment runs (the install-time probe of
:mod:`pipx_secure.install.target` runs with the site module, which is right for installing and
wrong for an audit).  The distributions are then read by spip from the site directories the
script computed, as the install probe's callers do.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import packaging
from packaging.tags import Tag, parse_tag

from pipx_secure.errors import EnvironmentProbeError
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.target import scan_distributions
from pipx_secure.model.environment import TargetEnvironment

SCRIPT = Path(__file__).with_name("target_script.py")
MARKER = "spip-audit-target"


@dataclass(frozen=True)
class AuditTarget:
    """The audited environment: its facts, distributions, and where files are installed."""

    environment: TargetEnvironment
    site_dirs: tuple[Path, ...]
    scripts: Path | None
    data: Path | None
    cache_tag: str
    base_executable: Path
    venv_prompt: str | None
    is_venv: bool


@dataclass(frozen=True)
class BytecodeResult:
    """The comparison of one ``.pyc`` with the code its source compiles to."""

    status: str  # same, differs, foreign, unreadable, failed
    loaded: bool
    detail: str


def _ask(python: Path, request: Mapping[str, Any], processes: Processes, kind: ChildKind) -> Any:
    script = SCRIPT.read_text(encoding="utf-8")
    done = processes.run(
        [str(python), "-I", "-S", "-c", script],
        kind,
        input=json.dumps(dict(request)),
        timeout=900,
    )
    if not done.ok:
        raise EnvironmentProbeError(
            f"target interpreter {python} failed to answer the audit: {done.last_line()}",
            hint="pass a working interpreter with --python (Python 3.8 or newer)",
        )
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise EnvironmentProbeError(
            f"target interpreter {python} answered the audit with something unreadable"
        ) from None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings was expected")
    return list(value)


def _optional_path(value: Any) -> Path | None:
    return Path(value) if isinstance(value, str) and value else None


def _target(python: Path, data: Any) -> AuditTarget:
    """Validate the probe's answer (ValueError when its shape is wrong)."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    markers, paths, venv = data.get("markers"), data.get("paths"), data.get("venv")
    if not (
        isinstance(markers, dict)
        and all(isinstance(v, str) for v in markers.values())
        and isinstance(paths, dict)
        and isinstance(data.get("prefix"), str)
        and isinstance(data.get("cache_tag"), str)
        and isinstance(data.get("base_executable"), str)
        and (venv is None or isinstance(venv, dict))
    ):
        raise ValueError("wrong shape")
    tags: tuple[Tag, ...] = tuple(next(iter(parse_tag(t))) for t in _strings(data.get("tags")))
    site_dirs = tuple(Path(d) for d in _strings(data.get("site_dirs")))
    found = scan_distributions([str(d) for d in site_dirs])
    environment = TargetEnvironment(
        python=python,
        markers=dict(markers),
        tags=tags,
        installed=found.versions,
        prefix=Path(data["prefix"]),
        locations=found.locations,
        requires=found.requires,
    )
    prompt = venv.get("prompt") if isinstance(venv, dict) else None
    return AuditTarget(
        environment=environment,
        site_dirs=site_dirs,
        scripts=_optional_path(paths.get("scripts")),
        data=_optional_path(paths.get("data")),
        cache_tag=data["cache_tag"],
        base_executable=Path(data["base_executable"]),
        venv_prompt=prompt if isinstance(prompt, str) else None,
        is_venv=venv is not None,
    )


def inspect(python: Path, processes: Processes) -> AuditTarget:
    """Ask ``python`` (isolated, no site module) about itself; read its distributions."""
    packaging_root = str(Path(packaging.__file__).resolve().parent.parent)
    answer = _ask(
        python, {"op": "probe", "packaging_root": packaging_root}, processes, ChildKind.PROBE
    )
    try:
        return _target(python, answer)
    except (ValueError, TypeError, StopIteration) as exc:
        raise EnvironmentProbeError(
            f"target interpreter {python} reported an unreadable environment: {exc}"
        ) from None


def _compare_chunk(
    python: Path, chunk: Sequence[tuple[str, str, int]], processes: Processes
) -> dict[str, BytecodeResult]:
    request = {"op": "bytecode", "items": [list(item) for item in chunk]}
    try:
        answer = _ask(python, request, processes, ChildKind.COMPILE)
        results = answer["results"]
        found = {
            pyc: BytecodeResult(str(r[0]), bool(r[1]), str(r[2])) for pyc, r in results.items()
        }
    except (EnvironmentProbeError, KeyError, TypeError, IndexError, AttributeError) as exc:
        detail = exc.render() if isinstance(exc, EnvironmentProbeError) else "bad answer"
        found = {}
    else:
        detail = "no answer for it"
    return {pyc: found.get(pyc, BytecodeResult("failed", False, detail)) for pyc, _s, _o in chunk}


def compare_bytecode(
    python: Path, items: Sequence[tuple[str, str, int]], processes: Processes
) -> dict[str, BytecodeResult]:
    """Compare each ``(pyc, source, optimize)`` in the target, over every core."""
    if not items:
        return {}
    workers = max(1, min(os.cpu_count() or 1, len(items) // 200 + 1))
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    results: dict[str, BytecodeResult] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(lambda c: _compare_chunk(python, c, processes), chunks):
            results.update(part)
    return results


def venv_scripts(target: AuditTarget, processes: Processes) -> dict[str, bytes] | str:
    """What the interpreter's ``venv`` module writes into this environment's scripts
    directory (name -> bytes), or why it could not say."""
    with tempfile.TemporaryDirectory(prefix="spip-audit-venv-") as out:
        request = {
            "op": "venv-scripts",
            "env_dir": str(target.environment.prefix),
            "out": str(Path(out) / "env"),
            "prompt": target.venv_prompt,
        }
        try:
            answer = _ask(target.environment.python, request, processes, ChildKind.COMPILE)
        except EnvironmentProbeError as exc:
            return exc.render()
        if not isinstance(answer, dict) or not isinstance(answer.get("bin"), str):
            error = answer.get("error") if isinstance(answer, dict) else None
            return str(error or "no answer")
        rendered = Path(answer["bin"])
        if not str(rendered.resolve()).startswith(str(Path(out).resolve()) + os.sep):
            return "the answer named a directory spip did not create"
        return {
            p.name: p.read_bytes() for p in rendered.iterdir() if p.is_file() and not p.is_symlink()
        }
