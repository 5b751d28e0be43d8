"""Downloads a user can watch and stop: a bar per file on a terminal, and Ctrl-C that ends spip
at once with nothing half-written, in the environment or in the cache.

The index sits behind the fault proxy, which sends each wheel slowly (``trickle``) or stops
half-way and waits (``stall``), so the test sees what a user on a slow link sees.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import (
    installed,
    run_on_terminal,
    spip_install_argv,
    store_password,
    tree_digest,
)
from tests.support.servers import FaultProxy

pytestmark = pytest.mark.slow


@pytest.fixture
def slow_map(tmp_path: Path, world: World, fault_proxy: FaultProxy, env: dict[str, str]) -> Path:
    store_password(env, fault_proxy.url, USERNAME, world.password)
    return world.write_map(tmp_path / "spip.toml", private_url=fault_proxy.url)


def test_each_download_shows_its_bytes_on_a_terminal(
    fault_proxy: FaultProxy, slow_map: Path, venv: Path, env: dict[str, str]
) -> None:
    fault_proxy.set_rules([{"path": r"acme_core-.*\.whl$", "fault": "trickle", "pieces": 8}])
    code, screen = run_on_terminal(spip_install_argv(slow_map, venv, "acme-core"), env)
    assert code == 0, screen
    assert installed(venv)["acme-core"] == "1.1.0"
    progress = [line for line in screen.split("\r") if "acme_core-1.1.0" in line]
    assert progress, screen  # the file being fetched is named while it arrives
    assert any("/" in line and ("kB" in line or "bytes" in line) for line in progress), screen
    assert "acme-core 1.1.0" in screen  # the package being pinned, beside "Resolving"
    assert "installing 1 wheel(s) with pip" in screen  # pip's install phase


def test_a_pipe_gets_no_progress_bars(
    fault_proxy: FaultProxy, slow_map: Path, venv: Path, env: dict[str, str]
) -> None:
    fault_proxy.set_rules([{"path": r"acme_core-.*\.whl$", "fault": "trickle", "pieces": 4}])
    result = subprocess.run(
        spip_install_argv(slow_map, venv, "acme-core"), env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
    assert "kB/s" not in result.stderr


def test_ctrl_c_during_a_stalled_download_ends_at_once_and_leaves_nothing(
    fault_proxy: FaultProxy, slow_map: Path, venv: Path, env: dict[str, str]
) -> None:
    # The server sends half of the wheel, then goes silent for two minutes: far longer than the
    # time allowed here, so only an interrupt that really stops the transfer passes.
    fault_proxy.set_rules([{"path": r"acme_core-.*\.whl$", "fault": "trickle", "stall": 120}])
    before = tree_digest(venv.parent.parent)
    process = subprocess.Popen(
        spip_install_argv(slow_map, venv, "acme-core"),
        env=dict(env, SPIP_TIMEOUT="300"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not any("acme_core-" in (entry["path"] or "") for entry in fault_proxy.requests()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "spip never asked for the wheel"
        time.sleep(0.1)
    time.sleep(1.0)  # half the body has arrived; the rest never will
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    took = time.monotonic() - sent
    assert process.returncode == 130, stderr
    print(f"stopped {took:.2f}s after SIGINT")
    assert took < 30, f"spip took {took:.1f}s to stop"  # the stall is 120 s, the timeout 300 s
    assert "Traceback" not in stdout + stderr
    assert stderr.strip().splitlines()[-1].startswith("spip: interrupted")
    assert tree_digest(venv.parent.parent) == before
    cache = Path(env["SPIP_CACHE_DIR"])
    assert not list(cache.rglob(".partial-*")), "a partial download was left in the cache"
    assert not [p for p in cache.rglob("acme_core-1.1.0*") if p.is_file()], "half a wheel kept"


def test_a_build_shows_what_is_being_built(slow_map: Path, venv: Path, env: dict[str, str]) -> None:
    code, screen = run_on_terminal(spip_install_argv(slow_map, venv, "acme-dual==2.0.0"), env)
    assert code == 0, screen
    assert installed(venv)["acme-dual"] == "2.0.0"
    assert "building acme-dual 2.0.0 (sdist)" in screen
