"""Processes and environments for integration tests: venvs, keyring, clean env, spip runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUDIT_HOOK_DIR = HERE / "audit_hook"


def make_venv(path: Path) -> Path:
    """A fresh virtual environment without pip (spip aims its own pip at it)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def site_packages(venv_python: Path) -> Path:
    venv = venv_python.parent.parent
    return next((venv / "lib").glob("python3*/site-packages"))


def installed(venv_python: Path) -> dict[str, str]:
    """Normalized name -> version, read from *.dist-info/METADATA (no pip needed)."""
    result = {}
    for dist_info in site_packages(venv_python).glob("*.dist-info"):
        text = (dist_info / "METADATA").read_text(errors="replace")
        name = re.search(r"^Name: (.+)$", text, re.M)
        version = re.search(r"^Version: (.+)$", text, re.M)
        if name and version:
            result[re.sub(r"[-_.]+", "-", name.group(1).strip()).lower()] = version.group(1).strip()
    return result


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (byte-identity checks)."""
    import hashlib

    digests = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def clean_env(tmp: Path) -> dict[str, str]:
    """os.environ without PIP_*/PYTHON*/SPIP_*, with HOME, TMPDIR and caches inside ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON", "SPIP_", "VIRTUAL_ENV", "UV_"))
    }
    home = tmp / "home"
    temp = tmp / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    temp.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        TMPDIR=str(temp),
        XDG_CACHE_HOME=str(tmp / "xdg-cache"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        SPIP_CACHE_DIR=str(tmp / "spip-cache"),
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        NO_COLOR="1",
        PIP_CONFIG_FILE=os.devnull,  # the machine's own pip config must not leak into tests
        NO_PROXY="127.0.0.1,localhost",  # test traffic never leaves the machine
        no_proxy="127.0.0.1,localhost",
    )
    return env


def store_password(env: dict[str, str], service: str, username: str, password: str) -> None:
    """Store a password with the real keyring library (file backend); never via argv."""
    code = "import sys, keyring; keyring.set_password(sys.argv[1], sys.argv[2], sys.stdin.read())"
    subprocess.run(
        [sys.executable, "-c", code, service, username],
        input=password,
        text=True,
        env=env,
        check=True,
    )


def run_spip(
    args: list[str], env: dict[str, str], cwd: Path | None = None, audit_log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipx_secure ARGS`` as a user would; optionally audit child processes."""
    run_env = dict(env)
    if audit_log is not None:
        run_env["PYTHONPATH"] = str(AUDIT_HOOK_DIR)
        run_env["SPIP_TEST_AUDIT_LOG"] = str(audit_log)
    return subprocess.run(
        [sys.executable, "-m", "pipx_secure", *args],
        env=run_env,
        cwd=str(cwd) if cwd else None,
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin/stdout/stderr; its exit code and screen."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        argv, env=dict(env, TERM="xterm"), stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=180)
    os.close(leader)
    return process.returncode, b"".join(chunks).decode(errors="replace")


def spip_install_argv(spip_map: Path, venv: Path, *args: str) -> list[str]:
    """``python -m pipx_secure install --map MAP --python VENV ARGS...``."""
    argv = [sys.executable, "-m", "pipx_secure", "install", "--map", str(spip_map)]
    return [*argv, "--python", str(venv), *args]


def plain_pip(
    venv: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Plain pip installing into ``venv`` (the attacks spip is measured against), with no pip
    configuration file; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv), "install", "-q", *args],
        env=dict(env, PIP_CONFIG_FILE=os.devnull),
        capture_output=True,
        text=True,
        check=check,
    )
