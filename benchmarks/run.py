"""spip against plain pip and uv on the same workload, in the same run.

    make bench          # or: .venv/bin/python benchmarks/run.py [--rounds 3] [--scale-rounds 1]

Sets up two real local index servers (pypiserver on 127.0.0.1) per workload: PUBLIC with a
realistic web/data application's closure as wheels (downloaded once, see workload.py) and
PRIVATE (basic auth) with a few generated packages that depend on it.  Every variant (see
tools.py: pip, spip, uv with ``--compile-bytecode``, ``spip --installer uv``, and each without
byte-compilation) installs ``acme-app`` with its own safe configuration, credentials from a
netrc file; scenarios run interleaved round by round:

- cold: a new environment, empty cache;  warm: a new environment, cache from the cold run;
- no-op: the same command again in the installed environment;
- resolve: resolution only (pip ``--dry-run --report``, spip ``--dry-run``, uv ``--dry-run``);
- offline: pip's own ``--no-index --no-deps`` step over the same wheels (with and without
  byte-compilation): the floor of an installer step.

Then the scaling run: cold and warm installs of the ``large`` workload (~155 distributions)
against the ``base`` one (~45): seconds per added distribution for each tool.  Wall seconds,
CPU seconds (the process and every child it waited for) and peak memory are reported, with
spip's own phases (``SPIP_TIMINGS``: resolution, download, build, install, bytecode,
provenance), the issue's goals as ratios of medians, the cold floor (compiling every source
once, plus pip's offline unpacking, spread over the cores), and in-process figures (a
10,000-rule map, a 5,000-file page).  Writes benchmarks/.work/results.json and results.png.
Timings are reported, never asserted.  ``--spip-src DIR`` runs another checkout of spip (a
baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import report  # noqa: E402
from tools import MAIN, NO_COMPILE, Indexes, Measured, command, offline_pip, run_measured  # noqa: E402
from workload import WORK, WORKLOADS, ensure_workload, workload_dir  # noqa: E402

from pipx_secure.install.pipargs import find_uv  # noqa: E402
from tests.support.packages import build_wheel  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

USER = "bench"
PASSWORD = "bench-only-password"  # a local, throwaway credential for the benchmark servers


#: Free space below which old environments are deleted at once rather than set aside.
TRASH_MIN_FREE = 40 * 1024**3


def discard(path: Path) -> None:
    """Set ``path`` aside until the run ends (deleted then), or delete it now when space is
    short.  Deleting thousands of files just before the next tool creates thousands makes
    ext4's inode allocation slow for minutes (it skips recently deleted inodes: seen here as
    most of a warm install's system time, growing round after round, for every tool)."""
    if not path.exists():
        return
    trash = path.parent / ".trash"
    if shutil.disk_usage(path.parent).free < TRASH_MIN_FREE:
        shutil.rmtree(path, ignore_errors=True)
        return
    trash.mkdir(exist_ok=True)
    path.rename(trash / f"{path.name}-{time.monotonic_ns()}")


def make_venv(path: Path) -> Path:
    discard(path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


class Bench:
    """One workload: its servers, and the rounds run over them."""

    def __init__(self, work: Path, indexes: Indexes, env: dict[str, str], args: Any) -> None:
        self.work = work
        self.indexes = indexes
        self.env = env
        self.uv = find_uv()
        self.spip_src = args.spip_src
        self.runs: report.Runs = {}

    def variants(self, *, like_for_like: bool) -> list[str]:
        chosen = [*MAIN, *NO_COMPILE] if like_for_like else list(MAIN)
        return [v for v in chosen if self.uv or ("uv" not in v)]

    def measure(self, variant: str, scenario: str, venv: Path, cache: Path) -> Measured:
        argv, extra = command(
            variant,
            venv,
            cache,
            self.indexes,
            self.uv,
            resolve_only=scenario == "resolve",
            spip_src=self.spip_src,
        )
        timings = self.work / "timings.jsonl" if variant.startswith("spip") else None
        result = run_measured(argv, {**self.env, **extra}, self.work, timings)
        self.runs.setdefault(scenario, {}).setdefault(variant, []).append(result.row())
        print(
            f"  {scenario:8} {variant:11} {result.seconds:7.2f} s  CPU {result.cpu:6.2f} s  "
            f"{result.rss_kib / 1024:5.0f} MiB"
        )
        return result

    def round(self, *, like_for_like: bool, offline_dirs: list[Path] | None) -> None:
        for variant in self.variants(like_for_like=like_for_like):
            cache = self.work / f"cache-{variant}"
            discard(cache)
            scenarios = (
                ("cold", "warm")
                if variant.endswith("-nc") or not like_for_like
                else ("cold", "warm", "noop", "resolve")
            )
            venv = make_venv(self.work / f"venv-{variant}")
            for scenario in scenarios:
                if scenario == "warm":
                    venv = make_venv(self.work / f"venv-{variant}")
                if scenario == "resolve":
                    venv = make_venv(self.work / f"venv-{variant}-resolve")
                self.measure(variant, scenario, venv, cache)
        for no_compile in (False, True) if offline_dirs else ():
            venv = make_venv(self.work / "venv-offline")
            argv = offline_pip(venv, offline_dirs or [], no_compile=no_compile)
            result = run_measured(argv, dict(self.env, PIP_CONFIG_FILE=os.devnull), self.work)
            name = "pip-nc" if no_compile else "pip"
            self.runs.setdefault("offline", {}).setdefault(name, []).append(result.row())
            print(f"  offline  {name:11} {result.seconds:7.2f} s  CPU {result.cpu:6.2f} s")


def micro() -> dict[str, float]:
    """In-process figures: a 10,000-rule map file, a 5,000-file project page."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    from pipx_secure.model.maptoml import parse_source_map
    from pipx_secure.model.simple_api import parse_html_page

    lines = [
        'default = "public"',
        "[indexes.public]",
        'url = "https://public.example/simple/"',
        "[indexes.private]",
        'url = "https://private.example/simple/"',
        "[packages]",
    ]
    lines += [f'"team{i}-*" = "private"' for i in range(5000)]
    lines += [f'"internal-lib-{i}" = "private"' for i in range(5000)]
    text = "\n".join(lines) + "\n"
    started = time.perf_counter()
    data = tomllib.loads(text)
    parsed_at = time.perf_counter()
    source_map = parse_source_map(data, origin="bench.toml", text=text)
    source_map.index_for("team4242-service")
    source_map.index_for("Internal_Lib_77")
    source_map.index_for("flask")
    routed_at = time.perf_counter()
    for i in range(0, 5000, 10):
        source_map.index_for(f"team{i}-svc")
    per_route_us = (time.perf_counter() - routed_at) / 500 * 1e6
    links = "".join(
        f'<a href="../../f/big-{i // 10}.{i % 10}.0-py3-none-any.whl#sha256={"a" * 64}" '
        f'data-requires-python="&gt;=3.8">big-{i // 10}.{i % 10}.0-py3-none-any.whl</a>\n'
        for i in range(5000)
    )
    page = f"<html><body>{links}</body></html>"
    started_page = time.perf_counter()
    parsed = parse_html_page(page, "https://public.example/simple/big/", "big")
    page_ms = (time.perf_counter() - started_page) * 1000
    assert len(parsed.files) == 5000
    return {
        "map_10000_rules_toml_parse_ms": (parsed_at - started) * 1000,
        "map_10000_rules_load_and_first_routes_ms": (routed_at - parsed_at) * 1000,
        "map_route_per_name_us": per_route_us,
        "page_5000_files_parse_ms": page_ms,
    }


def compile_cpu(wheel_dirs: list[Path]) -> tuple[int, float]:
    """How many sources the workload's wheels install into site-packages, and the CPU seconds
    of compiling them all once in this interpreter (what pip's, uv's and spip's
    byte-compilation each cost, whoever runs it)."""
    import zipfile

    from pipx_secure.install.archives import site_path

    sources = []
    for directory in wheel_dirs:
        for wheel in sorted(directory.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for member in archive.namelist():
                    if (site_path(member) or "").endswith(".py"):
                        sources.append((member, archive.read(member)))
    started = time.process_time()
    for member, source in sources:
        try:
            compile(source, member, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
    return len(sources), time.process_time() - started


def print_floor(summary: report.Summary, compiled: tuple[int, float]) -> dict[str, float]:
    """The least wall time any install that compiles every source and lets pip unpack the
    wheels can take on this machine's cores, as a ratio of pip's own cold install."""
    count, cpu = compiled
    cores = os.cpu_count() or 1
    pip_nc = summary.get("offline", {}).get("pip-nc", {}).get("cpu_s", 0.0)
    floor = (cpu + pip_nc) / cores
    pip_cold = summary.get("cold", {}).get("pip", {}).get("median_s", 0.0)
    print(
        f"compiling the workload's {count} sources: {cpu:.2f} CPU-s; with pip's offline "
        f"--no-compile step ({pip_nc:.2f} CPU-s) over {cores} cores: a floor of {floor:.2f}s"
        + (f" = {floor / pip_cold:.2f}x of pip's cold install" if pip_cold else "")
    )
    return {"sources": count, "compile_cpu_s": cpu, "floor_s": floor}


def environment(work: Path, ports: list[int]) -> dict[str, str]:
    """A clean environment whose netrc holds the private index's credential (for pip and uv
    by host, for spip by host:port as spip looks it up)."""
    home = work / "home"
    home.mkdir(exist_ok=True)
    netrc = home / ".netrc"
    lines = [f"machine 127.0.0.1 login {USER} password {PASSWORD}"]
    lines += [f"machine 127.0.0.1:{port} login {USER} password {PASSWORD}" for port in ports]
    netrc.write_text("\n".join(lines) + "\n")
    netrc.chmod(0o600)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON", "SPIP_", "UV_", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        SPIP_CACHE_KEY_FILE=str(work / "cache.key"),
    )
    return env


def serve(work: Path, name: str) -> tuple[Any, Any, Path, int]:
    """Start the private and public servers of workload ``name``."""
    wheels = ensure_workload(name)
    root = work / name
    private_dir = root / "private"
    build_wheel(private_dir, "acme-core", "1.0.0")
    build_wheel(private_dir, "acme-app", "1.0.0", requires=[*WORKLOADS[name], "acme-core"])
    public_dir = root / "public"
    shutil.copytree(wheels, public_dir, ignore=shutil.ignore_patterns(".complete"))
    private = start_server(private_dir, root / "private-server", username=USER, password=PASSWORD)
    public = start_server(public_dir, root / "public-server")
    count = len(list(wheels.glob("*.whl"))) + 2
    return private, public, root, count


def write_map(root: Path, private: Any, public: Any) -> Path:
    spip_map = root / "spip.toml"
    spip_map.write_text(
        f'default = "public"\n[indexes.private]\nurl = "{private.url}"\n'
        f'username = "{USER}"\n[indexes.public]\nurl = "{public.url}"\n'
        '[packages]\n"acme-*" = "private"\n'
    )
    return spip_map


def run_workload(work: Path, name: str, args: Any, *, main_run: bool) -> tuple[report.Runs, int]:
    private, public, root, count = serve(work, name)
    try:
        port = [int(s.url.rsplit(":", 1)[1].split("/")[0]) for s in (private, public)]
        env = environment(work, port)
        indexes = Indexes(private.url, public.url, write_map(root, private, public))
        bench = Bench(root, indexes, env, args)
        rounds = args.rounds if main_run else args.scale_rounds
        print(f"workload {name}: acme-app -> {count} distributions; {rounds} round(s)")
        for number in range(rounds):
            print(f"round {number + 1}/{rounds}")
            offline = [root / "public", root / "private"] if main_run else None
            bench.round(like_for_like=main_run, offline_dirs=offline)
        return bench.runs, count
    finally:
        private.stop()
        public.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale-rounds", type=int, default=1, help="0: no scaling run")
    parser.add_argument("--spip-src", type=Path, help="run spip from this source tree")
    parser.add_argument("--out", type=Path, default=WORK / "results.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="spip-bench-"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    try:
        started = time.perf_counter()
        runs, base_count = run_workload(work, "base", args, main_run=True)
        large_runs: report.Runs = {}
        large_count = 0
        if args.scale_rounds:
            large_runs, large_count = run_workload(work, "large", args, main_run=False)
        summary = report.summarize(runs)
        large = report.summarize(large_runs)
        print(f"\nbase workload ({base_count} distributions), medians:")
        report.print_table(summary)
        print("spip's phases (medians; phases overlap, so they need not add up):")
        report.print_phases(summary)
        offline = summary.get("offline", {})
        for variant in ("pip", "pip-nc"):
            spip = summary.get("warm", {}).get(variant.replace("pip", "spip"))
            if variant in offline and spip:
                floor = offline[variant]["median_s"]
                print(
                    f"offline {variant} step alone: {floor:.2f}s; "
                    f"spip warm / that: {spip['median_s'] / floor:.2f}x"
                )
        floor = print_floor(summary, compile_cpu([workload_dir("base")]))
        goals = report.goals(summary)
        print("goals (ratios of medians):")
        report.print_goals(goals)
        per_dist: dict[str, dict[str, float]] = {}
        if large:
            print(f"\nlarge workload ({large_count} distributions), medians:")
            report.print_table(large)
            per_dist = report.scaling(summary, large, (base_count, large_count))
            print("seconds per added distribution:")
            for scenario, variants in per_dist.items():
                parts = ", ".join(f"{v} {s * 1000:.0f} ms" for v, s in variants.items())
                print(f"  {scenario}: {parts}")
        figures = micro()
        for key, value in figures.items():
            print(f"{key}: {value:.1f} {'us' if key.endswith('_us') else 'ms'}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "summary": summary,
            "runs": runs,
            "goals": goals,
            "large": {"summary": large, "runs": large_runs, "distributions": large_count},
            "distributions": base_count,
            "seconds_per_added_distribution": per_dist,
            "micro": figures,
            "cold_floor": floor,
            "rounds": args.rounds,
            "spip_src": str(args.spip_src) if args.spip_src else None,
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "arch": platform.machine(),
            },
            "bench_seconds": time.perf_counter() - started,
        }
        args.out.write_text(json.dumps(document, indent=2))
        drawn = report.chart(summary, args.out.with_suffix(".png"))
        print(
            f"results: {args.out}" + (f", chart: {args.out.with_suffix('.png')}" if drawn else "")
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
