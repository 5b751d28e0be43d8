"""The benchmark workloads: a realistic web/data application's closure, as wheels.

Two sizes of the same kind of application, for the scaling run: ``base`` (~45 distributions)
and ``large`` (~155: ``base`` plus documentation, task-queue, web-framework, notebook and
crawling stacks).  Each is downloaded once (with the machine's ordinary pip and its configured
index) into ``benchmarks/.work/<name>``, which is not committed.  Later runs reuse it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOTS = (
    "flask",
    "sqlalchemy",
    "requests",
    "pydantic",
    "fastapi",
    "uvicorn",
    "httpx",
    "rich",
    "click",
    "jinja2",
    "boto3",
    "pandas",
    "pytest",
)
LARGE_ROOTS = (
    *ROOTS,
    "sphinx",
    "celery",
    "django",
    "black",
    "alembic",
    "aiohttp",
    "jupyter-server",
    "nbconvert",
    "scrapy",
)
WORKLOADS = {"base": ROOTS, "large": LARGE_ROOTS}
WORK = Path(__file__).resolve().parent / ".work"
WHEELS = WORK / "wheels"


def workload_dir(name: str) -> Path:
    """Where the wheels of workload ``name`` are kept."""
    return WHEELS if name == "base" else WORK / f"wheels-{name}"


def ensure_workload(name: str = "base") -> Path:
    """Download the workload's wheels once; return their directory."""
    directory = workload_dir(name)
    stamp = directory / ".complete"
    if stamp.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "--dest",
            str(directory),
            *WORKLOADS[name],
        ],
        check=True,
    )
    stamp.write_text("ok\n")
    return directory


if __name__ == "__main__":
    for workload in WORKLOADS:
        path = ensure_workload(workload)
        files = sorted(path.glob("*.whl"))
        size = sum(f.stat().st_size for f in files)
        print(f"{workload}: {len(files)} wheels, {size / 1e6:.1f} MB in {path}")
