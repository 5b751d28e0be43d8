"""``spip audit`` on a big environment: RECORDs by range requests against whole downloads.

    make bench-audit     # or: .venv/bin/python benchmarks/audit.py [--dists 120] [--rounds 3]

Builds ``--dists`` distributions with tests/support/packages.py (no download): each has a few
modules and a data payload of incompressible bytes (20 KB to 600 KB, so a wheel is much bigger
than its RECORD, as real wheels are), some a console script.  Serves them from a local
pypiserver on 127.0.0.1 (which answers HTTP range requests), installs them all with plain pip
into a fresh virtual environment, and audits it, round by round, interleaved:

- range: the default (each wheel's RECORD read with range requests);
- full: ``--full-download`` (every wheel downloaded whole and hash-checked).

Every run starts with an empty spip cache.  Prints the median seconds (min-max) and the bytes
each path downloaded, and writes benchmarks/.work/audit.json.  Timings are reported, never
asserted (tests/integration/test_audit_files.py asserts the byte count).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.environment import clean_env, make_venv, plain_pip  # noqa: E402
from tests.support.packages import metadata_text, write_wheel  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

WORK = ROOT / "benchmarks" / ".work"


def build_distributions(directory: Path, count: int, seed: int = 14) -> int:
    """``count`` wheels of varied size; returns their total size in bytes."""
    rng = random.Random(seed)
    for number in range(count):
        name = f"benchpkg-{number:03d}"
        module = name.replace("-", "_")
        files: dict[str, bytes | str] = {
            f"{module}/m{i}.py": f"def f{i}(x):\n    return x * {i}\n" * rng.randint(1, 40)
            for i in range(rng.randint(2, 25))
        }
        files[f"{module}/__init__.py"] = f"VERSION = '1.0.{number}'\n"
        files[f"{module}/data.bin"] = rng.randbytes(rng.randint(20_000, 600_000))
        if number % 10 == 0:
            files[f"{module}-1.0.0.dist-info/entry_points.txt"] = (
                f"[console_scripts]\n{name}-run = {module}:VERSION\n"
            )
        write_wheel(directory, name, "1.0.0", files, metadata_text(name, "1.0.0"))
    return sum(p.stat().st_size for p in directory.glob("*.whl"))


def audit(env: dict[str, str], venv: Path, spip_map: Path, *extra: str) -> tuple[float, Any]:
    """One audit with an empty cache: (seconds, the JSON report)."""
    cache = Path(tempfile.mkdtemp(prefix="spip-bench-cache-"))
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipx_secure",
                "audit",
                "--map",
                str(spip_map),
                "--python",
                str(venv),
                "--format",
                "json",
                "--no-exposure",
                *extra,
            ],
            env=dict(env, SPIP_CACHE_DIR=str(cache)),
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"audit failed: {done.stderr.strip()}")
    return elapsed, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dists", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="spip-bench-audit-"))
    server = None
    try:
        total = build_distributions(work / "packages", args.dists)
        server = start_server(work / "packages", work / "server")
        env = clean_env(work)
        venv = make_venv(work / "env")
        names = [f"benchpkg-{n:03d}" for n in range(args.dists)]
        started = time.perf_counter()
        plain_pip(
            venv,
            env,
            "--no-deps",
            "--disable-pip-version-check",
            "--index-url",
            server.url,
            *names,
        )
        print(
            f"{args.dists} distributions ({total / 1e6:.1f} MB of wheels) installed by pip in "
            f"{time.perf_counter() - started:.1f} s"
        )
        spip_map = work / "spip.toml"
        spip_map.write_text(f'default = "bench"\n[indexes.bench]\nurl = "{server.url}"\n')
        runs: dict[str, list[float]] = {"range": [], "full": []}
        transfer: dict[str, dict[str, int]] = {}
        for _round in range(args.rounds):
            for path, extra in (("range", ()), ("full", ("--full-download",))):
                seconds, report = audit(env, venv, spip_map, *extra)
                verdicts = report["summary"]["packages"]
                assert verdicts == {"verified": args.dists}, verdicts
                runs[path].append(seconds)
                transfer[path] = report["transfer"]
        return report_results(args, total, runs, transfer)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def report_results(
    args: argparse.Namespace,
    total: int,
    runs: dict[str, list[float]],
    transfer: dict[str, dict[str, int]],
) -> int:
    rows = {}
    print(f"\nspip audit of {args.dists} distributions, {args.rounds} rounds, empty cache each run")
    print(f"{'path':<6} {'median s':>9} {'min-max s':>13} {'downloaded':>12} {'requests':>9}")
    for path, seconds in runs.items():
        moved = transfer[path]["range_bytes"] + transfer[path]["download_bytes"]
        requests = transfer[path]["range_requests"] + transfer[path]["downloads"]
        median = statistics.median(seconds)
        rows[path] = {
            "median_s": median,
            "min_s": min(seconds),
            "max_s": max(seconds),
            "bytes": moved,
            "requests": requests,
            "runs": seconds,
        }
        print(
            f"{path:<6} {median:>9.2f} {min(seconds):>6.2f}-{max(seconds):<6.2f} "
            f"{moved / 1e6:>9.2f} MB {requests:>9}"
        )
    ratio = rows["range"]["bytes"] / max(1, rows["full"]["bytes"])
    print(
        f"range path downloaded {ratio:.1%} of the wheels' {total / 1e6:.1f} MB; "
        f"time range/full: {rows['range']['median_s'] / rows['full']['median_s']:.2f}x"
    )
    for mbit in (100, 20):
        seconds = {path: rows[path]["bytes"] * 8 / (mbit * 1e6) for path in rows}
        print(
            f"the transfer alone at {mbit} Mbit/s (arithmetic, not measured): "
            f"range {seconds['range']:.1f} s, full {seconds['full']:.1f} s"
        )
    WORK.mkdir(parents=True, exist_ok=True)
    result = {"dists": args.dists, "wheels_bytes": total, "cpus": os.cpu_count(), **rows}
    (WORK / "audit.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
