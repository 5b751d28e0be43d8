"""The benchmark workload: a realistic web/data application's closure, as wheels.

Downloaded once (with the machine's ordinary pip and its configured index) into
``benchmarks/.work/wheels``, which is not committed.  Later runs reuse it.
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
WORK = Path(__file__).resolve().parent / ".work"
WHEELS = WORK / "wheels"


def ensure_workload() -> Path:
    """Download the workload's wheels once; return their directory."""
    stamp = WHEELS / ".complete"
    if stamp.exists():
        return WHEELS
    WHEELS.mkdir(parents=True, exist_ok=True)
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
            str(WHEELS),
            *ROOTS,
        ],
        check=True,
    )
    stamp.write_text("ok\n")
    return WHEELS


if __name__ == "__main__":
    path = ensure_workload()
    files = sorted(path.glob("*.whl"))
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} wheels, {size / 1e6:.1f} MB in {path}")
