"""spip against plain pip (and uv when installed) on the same workload, in the same run.

    make bench          # or: .venv/bin/python benchmarks/run.py [--rounds 3]

Sets up two real local index servers (pypiserver on 127.0.0.1): PUBLIC with a realistic
web/data application's closure as wheels (downloaded once, see workload.py) and PRIVATE (basic
auth) with a few generated packages that depend on it.  Every tool installs ``acme-app`` (the
private app) with its own safe configuration, credentials from a netrc file; scenarios run
interleaved round by round:

- cold: a new environment, empty cache;  warm: a new environment, cache from the cold run;
- no-op: the same command again in the installed environment;
- resolve: resolution only (pip ``--dry-run --report``, spip ``--dry-run``, uv ``--dry-run``).

Plus in-process figures: loading and routing a 10,000-rule source map, parsing a 5,000-file
project page.  Prints medians, min-max and ratios; writes benchmarks/.work/results.json and
results.png.  Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from workload import ROOTS, WORK, ensure_workload  # noqa: E402

from pipx_secure.install.pipargs import find_uv  # noqa: E402
from tests.support.packages import build_wheel  # noqa: E402
from tests.support.servers import start_server  # noqa: E402

USER = "bench"
PASSWORD = "bench-only-password"  # a local, throwaway credential for the benchmark servers


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, peak RSS in KiB of the top process, exit status)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    err = process.stderr.read().decode(errors="replace")
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"  ! {' '.join(argv[:4])}... failed: {err.strip().splitlines()[-1:]}")
    return elapsed, usage.ru_maxrss, process.returncode


def make_venv(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


class Bench:
    def __init__(
        self, work: Path, private_url: str, public_url: str, spip_map: Path, env: dict[str, str]
    ) -> None:
        self.work = work
        self.private = private_url
        self.public = public_url
        self.map = spip_map
        self.env = env
        self.uv = find_uv()

    def tools(self) -> list[str]:
        return ["pip", "spip"] + (["uv", "spip+uv"] if self.uv else [])

    def command(
        self, tool: str, venv: Path, cache: Path, *, resolve_only: bool
    ) -> tuple[list[str], dict[str, str]]:
        env = dict(self.env)
        if tool == "pip":
            argv = [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(venv),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--cache-dir",
                str(cache),
                "--index-url",
                self.private,
                "--extra-index-url",
                self.public,
                "acme-app",
            ]
            if resolve_only:
                argv += ["--dry-run", "--ignore-installed", "--report", os.devnull]
            env["PIP_CONFIG_FILE"] = os.devnull
        elif tool in ("spip", "spip+uv"):
            argv = [
                sys.executable,
                "-m",
                "pipx_secure",
                "install",
                "--quiet",
                "--map",
                str(self.map),
                "--python",
                str(venv),
                "acme-app",
            ]
            if tool == "spip+uv":
                argv += ["--installer", "uv"]
            if resolve_only:
                argv.append("--dry-run")
            env["SPIP_CACHE_DIR"] = str(cache)
        else:
            assert self.uv
            argv = [
                self.uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv),
                "--index-url",
                self.private,
                "--extra-index-url",
                self.public,
                "--index-strategy",
                "first-index",
                "--compile-bytecode",
                "acme-app",
            ]
            if resolve_only:
                argv.append("--dry-run")
            env["UV_CACHE_DIR"] = str(cache)
        return argv, env

    def scenario_round(self, results: dict[str, dict[str, list[list[float]]]]) -> None:
        for tool in self.tools():
            cache = self.work / f"cache-{tool}"
            shutil.rmtree(cache, ignore_errors=True)
            venv = make_venv(self.work / f"venv-{tool}")
            for scenario in ("cold", "warm", "noop", "resolve"):
                if scenario == "warm":
                    venv = make_venv(self.work / f"venv-{tool}")
                if scenario == "resolve":
                    venv = make_venv(self.work / f"venv-{tool}-resolve")
                argv, env = self.command(tool, venv, cache, resolve_only=scenario == "resolve")
                seconds, rss, status = run_measured(argv, env)
                results.setdefault(scenario, {}).setdefault(tool, []).append([seconds, rss, status])
                print(f"  {scenario:8} {tool:5} {seconds:7.2f} s  {rss / 1024:6.0f} MiB")
        # The offline pip step spip ends with, run by pip alone over the same wheel files
        # (pip's own byte-compilation included): the floor spip is measured against.
        venv = make_venv(self.work / "venv-offline")
        wheel_dirs = [self.work / "public", self.work / "private"]
        pins = sorted(
            "{}=={}".format(*wheel.name.split("-")[:2])
            for directory in wheel_dirs
            for wheel in directory.glob("*.whl")
        )
        argv = [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--no-deps",
            *[f"--find-links={d}" for d in wheel_dirs],
            *pins,
        ]
        seconds, rss, status = run_measured(argv, dict(self.env, PIP_CONFIG_FILE=os.devnull))
        results.setdefault("offline", {}).setdefault("pip", []).append([seconds, rss, status])
        print(f"  offline  pip   {seconds:7.2f} s  {rss / 1024:6.0f} MiB")


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


def summarize(
    results: dict[str, dict[str, list[list[float]]]],
) -> dict[str, dict[str, dict[str, float]]]:
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for scenario, tools in results.items():
        summary[scenario] = {}
        for tool, runs in tools.items():
            times = [r[0] for r in runs]
            summary[scenario][tool] = {
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "peak_rss_mib": max(r[1] for r in runs) / 1024,
                "failures": sum(1 for r in runs if r[2] != 0),
            }
    return summary


def chart(summary: dict[str, dict[str, dict[str, float]]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scenarios = list(summary)
    tools = sorted({t for s in summary.values() for t in s})
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(tools)
    for offset, tool in enumerate(tools):
        values = [summary[s].get(tool, {}).get("median_s", 0) for s in scenarios]
        ax.bar([i + offset * width for i in range(len(scenarios))], values, width, label=tool)
    ax.set_xticks([i + width * (len(tools) - 1) / 2 for i in range(len(scenarios))], scenarios)
    ax.set_ylabel("median seconds")
    ax.set_title("spip vs pip (and uv): same workload, same run")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    wheels = ensure_workload()
    work = Path(tempfile.mkdtemp(prefix="spip-bench-"))
    try:
        private_dir = work / "private"
        build_wheel(private_dir, "acme-core", "1.0.0")
        build_wheel(private_dir, "acme-app", "1.0.0", requires=[*ROOTS, "acme-core"])
        public_dir = work / "public"
        shutil.copytree(wheels, public_dir, ignore=shutil.ignore_patterns(".complete"))
        private = start_server(
            private_dir, work / "private-server", username=USER, password=PASSWORD
        )
        public = start_server(public_dir, work / "public-server")
        try:
            home = work / "home"
            home.mkdir()
            netrc = home / ".netrc"
            netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
            netrc.chmod(0o600)
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("PIP_", "PYTHON", "SPIP_", "UV_", "VIRTUAL_ENV"))
            }
            env.update(HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
            spip_map = work / "spip.toml"
            spip_map.write_text(
                f'default = "public"\n[indexes.private]\nurl = "{private.url}"\n'
                f'username = "{USER}"\n[indexes.public]\nurl = "{public.url}"\n'
                '[packages]\n"acme-*" = "private"\n'
            )
            bench = Bench(work, private.url, public.url, spip_map, env)
            files = sorted(wheels.glob("*.whl"))
            size = sum(f.stat().st_size for f in files) / 1e6
            print(
                f"workload: acme-app -> {len(files) + 2} distributions "
                f"({len(files)} public wheels, {size:.1f} MB); tools: {', '.join(bench.tools())}"
            )
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}"
            )
            results: dict[str, dict[str, list[list[float]]]] = {}
            for number in range(args.rounds):
                print(f"round {number + 1}/{args.rounds}")
                bench.scenario_round(results)
        finally:
            private.stop()
            public.stop()
        summary = summarize(results)
        figures = micro()
        print()
        print(
            f"{'scenario':9} {'tool':5} {'median':>8} {'min-max':>15} {'peak RSS':>9} "
            f"{'spip/tool':>9}"
        )
        offline = summary.pop("offline", {}).get("pip")
        for scenario, tools in summary.items():
            spip_median = tools["spip"]["median_s"]
            for tool, row in tools.items():
                ratio = "" if tool.startswith("spip") else f"{spip_median / row['median_s']:.2f}x"
                print(
                    f"{scenario:9} {tool:5} {row['median_s']:7.2f}s "
                    f"{row['min_s']:6.2f}-{row['max_s']:<6.2f}s {row['peak_rss_mib']:7.0f}MiB "
                    f"{ratio:>9}"
                )
        if offline:
            print(
                f"offline pip step alone (pip --no-index over the same wheels): "
                f"{offline['median_s']:.2f}s; spip cold / that = "
                f"{summary['cold']['spip']['median_s'] / offline['median_s']:.2f}x, warm / "
                f"that = {summary['warm']['spip']['median_s'] / offline['median_s']:.2f}x"
            )
            summary["offline"] = {"pip": offline}
        for key, value in figures.items():
            unit = "us" if key.endswith("_us") else "ms"
            print(f"{key}: {value:.1f} {unit}")
        out = WORK
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(
            json.dumps(
                {
                    "summary": summary,
                    "runs": results,
                    "micro": figures,
                    "rounds": args.rounds,
                    "machine": {
                        "cores": os.cpu_count(),
                        "python": platform.python_version(),
                        "arch": platform.machine(),
                    },
                },
                indent=2,
            )
        )
        drawn = chart(summary, out / "results.png")
        print(
            f"results: {out / 'results.json'}"
            + (
                f", chart: {out / 'results.png'}"
                if drawn
                else " (install matplotlib for the chart)"
            )
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
