"""Medians, ratios, the issue's goals, the scaling run and the chart of one benchmark run."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

Runs = dict[str, dict[str, list[list[Any]]]]  # scenario -> variant -> rows
Summary = dict[str, dict[str, dict[str, Any]]]

#: (numerator, denominator, scenario, limit): ratios of medians the issue sets as goals.
GOALS = (
    ("spip", "pip", "cold", 0.45),
    ("spip", "pip", "warm", 0.30),
    ("spip", "pip", "noop", 0.10),
    ("spip", "pip", "resolve", 0.25),
    ("spip+uv", "uv", "cold", 1.0),
    ("spip+uv", "uv", "warm", 1.0),
    ("spip+uv-nc", "uv-nc", "warm", 3.0),
)


def summarize(runs: Runs) -> Summary:
    """Median, range, CPU and memory per scenario and variant; spip's phases by median."""
    summary: Summary = {}
    for scenario, variants in runs.items():
        summary[scenario] = {}
        for variant, rows in variants.items():
            times = [r[0] for r in rows]
            phases: dict[str, float] = {}
            names = {k for r in rows for k in r[4]}
            for name in sorted(names):
                phases[name] = statistics.median(r[4].get(name, 0.0) for r in rows)
            summary[scenario][variant] = {
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "cpu_s": statistics.median(r[3] for r in rows),
                "peak_rss_mib": max(r[1] for r in rows) / 1024,
                "failures": sum(1 for r in rows if r[2] != 0),
                "phases": phases,
            }
    return summary


def ratio(summary: Summary, scenario: str, num: str, den: str, key: str = "median_s") -> float:
    """``num`` / ``den`` for ``scenario`` (nan when either is missing)."""
    try:
        return float(summary[scenario][num][key]) / float(summary[scenario][den][key])
    except (KeyError, ZeroDivisionError):
        return float("nan")


def print_table(summary: Summary) -> None:
    print(f"{'scenario':8} {'variant':11} {'median':>8} {'min-max':>14} {'CPU':>7} {'RSS':>7}")
    for scenario, variants in summary.items():
        for variant, row in variants.items():
            print(
                f"{scenario:8} {variant:11} {row['median_s']:7.2f}s "
                f"{row['min_s']:6.2f}-{row['max_s']:<6.2f}s {row['cpu_s']:6.2f}s "
                f"{row['peak_rss_mib']:5.0f}MiB"
                + (f"  fail {row['failures']}" if row["failures"] else "")
            )


def goals(summary: Summary) -> list[dict[str, Any]]:
    """Each goal with its measured ratio, and CPU seconds spip vs pip per scenario."""
    out = []
    for num, den, scenario, limit in GOALS:
        value = ratio(summary, scenario, num, den)
        out.append(
            {
                "goal": f"{num} / {den} {scenario} <= {limit}x",
                "ratio": value,
                "met": value <= limit,
            }
        )
    for scenario in summary:
        for num, den in (("spip", "pip"), ("spip-nc", "pip-nc")):
            if num in summary[scenario] and den in summary[scenario]:
                value = ratio(summary, scenario, num, den, "cpu_s")
                out.append(
                    {
                        "goal": f"CPU {num} < {den} {scenario}",
                        "ratio": value,
                        "met": value < 1.0,
                    }
                )
    return out


def print_goals(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(f"  {'met   ' if row['met'] else 'MISSED'} {row['goal']:32} {row['ratio']:.2f}x")


def scaling(base: Summary, large: Summary, sizes: tuple[int, int]) -> dict[str, dict[str, float]]:
    """Seconds per added distribution for each variant and install scenario."""
    added = sizes[1] - sizes[0]
    out: dict[str, dict[str, float]] = {}
    for scenario in ("cold", "warm"):
        for variant, row in large.get(scenario, {}).items():
            small = base.get(scenario, {}).get(variant)
            if small is None or added <= 0:
                continue
            per = (row["median_s"] - small["median_s"]) / added
            out.setdefault(scenario, {})[variant] = per
    return out


def print_phases(summary: Summary) -> None:
    for scenario in ("cold", "warm", "noop", "resolve"):
        row = summary.get(scenario, {}).get("spip")
        if row and row["phases"]:
            parts = ", ".join(f"{k} {v:.2f}s" for k, v in row["phases"].items())
            print(f"  spip {scenario:8}: {parts}")


def chart(summary: Summary, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    scenarios = list(summary)
    variants = sorted({t for s in summary.values() for t in s})
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(variants)
    for offset, variant in enumerate(variants):
        values = [summary[s].get(variant, {}).get("median_s", 0) for s in scenarios]
        positions = [i + offset * width for i in range(len(scenarios))]
        ax.bar(positions, values, width, label=variant)
    ax.set_xticks([i + width * (len(variants) - 1) / 2 for i in range(len(scenarios))], scenarios)
    ax.set_ylabel("median seconds")
    ax.set_title("spip vs pip and uv: same workload, same run")
    ax.legend(ncol=2, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True
