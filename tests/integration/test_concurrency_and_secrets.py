"""Four spip runs sharing one cache; a killed run; and a sweep for the secret everywhere."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import (
    clean_env,
    installed,
    make_venv,
    run_spip,
    store_password,
)
from tests.support.servers import start_fault_proxy

pytestmark = pytest.mark.slow


def test_four_installs_share_one_cache(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    venvs = [make_venv(tmp_path / f"v{i}") for i in range(4)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipx_secure",
                "install",
                "--map",
                str(spip_map),
                "--python",
                str(venv),
                "acme-bundle",
                "acme-utils",
                "publicdep",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for venv in venvs
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in processes]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    for venv in venvs:
        assert installed(venv)["acme-core"] == "1.1.0"
        assert len(installed(venv)) == 34
    cache = Path(env["SPIP_CACHE_DIR"])
    artifacts = [p for p in (cache / "artifacts").rglob("*") if p.is_file()]
    assert artifacts and not [p for p in artifacts if p.name.startswith(".partial-")]
    for path in artifacts:  # artifacts/sha256/ab/<digest>/<file>
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name
    # No process still holds a cache lock: every lock can be taken at once.
    from filelock import FileLock

    for lock in (cache / "locks").glob("*.lock"):
        with FileLock(str(lock), timeout=0):
            pass


def test_a_killed_run_leaves_nothing_the_next_run_trips_over(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    proxy = start_fault_proxy(world.private.url[: -len("/simple/")], tmp_path / "proxy")
    try:
        store_password(env, proxy.url, USERNAME, world.password)
        proxy.set_rules(
            [{"path": r"^/packages/acme_core-1\.1\.0", "fault": "hang", "seconds": 30, "times": 1}]
        )
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.private]\nurl = "{proxy.url}"\nusername = '
            f'"{USERNAME}"\n[indexes.public]\nurl = "{world.public.url}"\n[packages]\n'
            '"acme-*" = "private"\n'
        )
        venv = make_venv(tmp_path / "v")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipx_secure",
                "install",
                "--map",
                str(spip_map),
                "--python",
                str(venv),
                "acme-core",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not any("/packages/acme_core-1.1.0" in (e["path"] or "") for e in proxy.requests()):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        time.sleep(0.2)  # the download is under way (its lock taken, its temp file open)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        proxy.set_rules([])
        again = run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env
        )
        assert again.returncode == 0, again.stderr
        assert installed(venv) == {"acme-core": "1.1.0"}
        assert not list(Path(env["SPIP_CACHE_DIR"]).rglob(".partial-*"))
    finally:
        proxy.stop()


@pytest.mark.parametrize("source", ["keyring-url", "keyring-host-port", "netrc-host-port"])
def test_secret_sweep_over_every_command(
    world: World, venv: Path, spip_map: Path, tmp_path: Path, source: str
) -> None:
    """Every command, with the password in keyring under the URL, under host:port, or in
    netrc as ``machine host:port``: the secret appears nowhere."""
    env = clean_env(tmp_path)
    host_port = f"127.0.0.1:{world.private.port}"
    if source == "keyring-url":
        store_password(env, world.private.url, USERNAME, world.password)
    elif source == "keyring-host-port":
        store_password(env, host_port, USERNAME, world.password)
    else:
        netrc = Path(env["HOME"]) / ".netrc"
        netrc.write_text(f"machine {host_port} login {USERNAME} password {world.password}\n")
        netrc.chmod(0o600)
    secret = world.password
    public_since = world.public.mark()  # (plain pip, in other tests, leaks it there via netrc)
    needles = [secret, base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()]
    audit = tmp_path / "children.jsonl"
    outputs = []
    lock = tmp_path / "pylock.toml"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("acme-utils==1.0.0\npublicdep\n")
    commands = [
        ["install", "--map", str(spip_map), "--python", str(venv), "acme-built", "publicdep"],
        ["lock", "--map", str(spip_map), "-r", str(reqs), "-o", str(lock)],
        ["sync", "--map", str(spip_map), "--python", str(make_venv(tmp_path / "s")), str(lock)],
        ["check", "--map", str(spip_map), "--online", "--json", str(reqs), str(lock)],
        ["audit", "--map", str(spip_map), "--python", str(venv), "--json"],
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            "--dry-run",
            "--report",
            "-",
            "acme-extras[fast]",
        ],
        ["auth", "check", "--map", str(spip_map), "private"],
        ["explain", "--map", str(spip_map), "acme-core"],
    ]
    for command in commands:
        result = run_spip(command, env, cwd=tmp_path, audit_log=audit)
        assert result.returncode in (0, 1), (command, result.stderr)
        outputs.append(result.stdout + result.stderr)
    # A failing run too: a wrong password from the environment.
    wrong = dict(env, SPIP_INDEX_PRIVATE_PASSWORD="not-" + secret)
    failed = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(venv),
            "acme-core",
            "--force-reinstall",
        ],
        wrong,
        audit_log=audit,
    )
    assert failed.returncode == 6
    outputs.append(failed.stdout + failed.stderr)
    needles.append("not-" + secret)
    for text in outputs:
        assert not any(n in text for n in needles)
    children = [json.loads(line) for line in audit.read_text().splitlines()]
    assert children
    for child in children:
        blob = " ".join(child["argv"]) + " ".join(child["env"].values())
        assert not any(n in blob for n in needles)
    keyring_files = {p for p in (tmp_path / "xdg-data").rglob("*") if p.is_file()}
    keyring_files |= {Path(env["HOME"]) / ".netrc"}
    for path in tmp_path.rglob("*"):
        if path.is_file() and path not in keyring_files and path != audit:
            data = path.read_bytes()
            assert not any(n.encode() in data for n in needles), path
    public_log = json.dumps(world.public.requests()[public_since:])
    assert not any(n in public_log for n in needles)
