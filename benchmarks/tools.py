"""The commands the benchmark compares, and how one of them is measured.

Each *variant* is a tool with its flags: ``pip``, ``spip``, ``uv`` (with
``--compile-bytecode``, like pip's default), ``spip+uv``, and the ``-nc`` variants of each
without byte-compilation (pip and spip ``--no-compile``, uv without ``--compile-bytecode``).
Every variant installs ``acme-app`` with its own safe configuration: credentials from a netrc
file, the private index first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MAIN = ("pip", "spip", "uv", "spip+uv")
NO_COMPILE = ("pip-nc", "spip-nc", "uv-nc", "spip+uv-nc")


@dataclass(frozen=True)
class Measured:
    """One run: wall seconds, CPU seconds (the process and every child it waited for), peak
    RSS of the top process in KiB, exit status, and spip's own phase timings."""

    seconds: float
    cpu: float
    rss_kib: int
    status: int
    phases: dict[str, float]

    def row(self) -> list[object]:
        return [self.seconds, self.rss_kib, self.status, self.cpu, self.phases]


def run_measured(
    argv: list[str], env: dict[str, str], cwd: Path, timings: Path | None = None
) -> Measured:
    """Run ``argv`` in ``cwd`` and measure it (``wait4``: the child's rusage includes its
    children's).  ``cwd`` is outside any checkout: ``python -m pipx_secure`` puts the working
    directory first on ``sys.path``, which would pick a checkout there over ``--spip-src``."""
    if timings is not None:
        timings.unlink(missing_ok=True)
        env = dict(env, SPIP_TIMINGS=str(timings))
    spawned = time.time()
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if process.stderr is None:
        raise RuntimeError("no stderr pipe")
    err = process.stderr.read().decode(errors="replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"  ! {' '.join(argv[:4])}... failed: {err.strip().splitlines()[-1:]}")
    phases: dict[str, float] = {}
    if timings is not None and timings.exists():
        for line in timings.read_text().splitlines():
            record = json.loads(line)
            phases.update(record.get("phases", {}))
            # Imports, the map, the interpreter's facts, the no-op check: before resolution.
            phases.setdefault("startup", record["started"] - spawned)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(elapsed, cpu, usage.ru_maxrss, process.returncode, phases)


@dataclass(frozen=True)
class Indexes:
    """The two local index servers of one workload."""

    private: str
    public: str
    spip_map: Path


def command(
    variant: str,
    venv: Path,
    cache: Path,
    indexes: Indexes,
    uv: str | None,
    *,
    resolve_only: bool = False,
    spip_src: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment of ``variant`` installing acme-app into ``venv``."""
    tool = variant.removesuffix("-nc")
    no_compile = variant.endswith("-nc")
    env: dict[str, str] = {}
    if tool == "pip":
        argv = [sys.executable, "-m", "pip", "--python", str(venv), "install", "--quiet"]
        argv += ["--disable-pip-version-check", "--cache-dir", str(cache)]
        argv += ["--index-url", indexes.private, "--extra-index-url", indexes.public]
        argv += ["--no-compile"] if no_compile else []
        if resolve_only:
            argv += ["--dry-run", "--ignore-installed", "--report", os.devnull]
        env["PIP_CONFIG_FILE"] = os.devnull
    elif tool in ("spip", "spip+uv"):
        argv = [sys.executable, "-m", "pipx_secure", "install", "--quiet"]
        argv += ["--map", str(indexes.spip_map), "--python", str(venv)]
        argv += ["--installer", "uv"] if tool == "spip+uv" else []
        argv += ["--no-compile"] if no_compile else []
        argv += ["--dry-run"] if resolve_only else []
        env["SPIP_CACHE_DIR"] = str(cache)
        # Whatever else spip's children cache (uv, before spip kept uv's cache) is cold too.
        env["XDG_CACHE_HOME"] = str(cache / "xdg")
        if spip_src is not None:
            env["PYTHONPATH"] = str(spip_src)
    else:
        if uv is None:
            raise RuntimeError("no uv")
        argv = [uv, "pip", "install", "--quiet", "--python", str(venv)]
        argv += ["--index-url", indexes.private, "--extra-index-url", indexes.public]
        argv += ["--index-strategy", "first-index"]
        argv += [] if no_compile else ["--compile-bytecode"]
        argv += ["--dry-run"] if resolve_only else []
        env["UV_CACHE_DIR"] = str(cache)
    return [*argv, "acme-app"], env


def offline_pip(venv: Path, wheel_dirs: list[Path], *, no_compile: bool) -> list[str]:
    """pip's own offline ``--no-deps`` step over the same wheel files: the floor spip's
    installer step is measured against."""
    pins = sorted(
        "{}=={}".format(*wheel.name.split("-")[:2])
        for directory in wheel_dirs
        for wheel in directory.glob("*.whl")
    )
    argv = [sys.executable, "-m", "pip", "--python", str(venv), "install", "--quiet"]
    argv += ["--disable-pip-version-check", "--no-index", "--no-deps"]
    argv += ["--no-compile"] if no_compile else []
    return argv + [f"--find-links={d}" for d in wheel_dirs] + pins
