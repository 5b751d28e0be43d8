"""pip's argv and environment are built by pure functions: air-gapped by construction."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipx_secure.install.pipargs import (
    PipOptions,
    RequirementEntry,
    build_pip_install_args,
    render_requirements,
)
from pipx_secure.install.process import ChildKind, child_env
from pipx_secure.model.hashes import Digest


def test_env_drops_pip_python_and_spip_variables_and_secrets() -> None:
    env = child_env(
        ChildKind.PIP,
        {
            "PATH": "/usr/bin",
            "PIP_EXTRA_INDEX_URL": "https://evil.example/simple",
            "PIP_INDEX_URL": "https://evil.example/simple",
            "PIP_FIND_LINKS": "/tmp/x",
            "PYTHONPATH": "/evil",
            "SPIP_INDEX_PRIVATE_PASSWORD": "pw-123456",
            "OTHER": "contains pw-123456 inside",
            "HOME": "/home/u",
        },
        ("pw-123456",),
    )
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert "PIP_EXTRA_INDEX_URL" not in env and "PIP_INDEX_URL" not in env
    assert "PIP_FIND_LINKS" not in env and "PYTHONPATH" not in env
    assert not any("pw-123456" in v for v in env.values())
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/u"


def test_pip_args_are_offline_hash_checked_and_no_deps(tmp_path: Path) -> None:
    argv = build_pip_install_args(
        target_python=tmp_path / "venv" / "bin" / "python",
        wheelhouse=tmp_path / "house",
        requirements_file=tmp_path / "req.txt",
        options=PipOptions(),
    )
    # spip's own pip (this copy), run by the target interpreter: pip starts once, not twice.
    import pip

    runner = Path(pip.__file__).parent / "__pip-runner__.py"
    assert argv[:3] == [str(tmp_path / "venv" / "bin" / "python"), str(runner), "install"]
    assert "--python" not in argv
    for flag in ("--no-index", "--no-deps", "--require-hashes", "--isolated"):
        assert flag in argv
    assert argv[argv.index("--find-links") + 1] == str(tmp_path / "house")
    assert not any("index-url" in a for a in argv)


def test_requirements_file_pins_exact_versions_with_hashes() -> None:
    text = render_requirements(
        [
            RequirementEntry("b", "2.0", Digest("sha256", "b" * 64)),
            RequirementEntry("a", "1.0", Digest("sha256", "a" * 64)),
        ]
    )
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [f"a==1.0 --hash=sha256:{'a' * 64}", f"b==2.0 --hash=sha256:{'b' * 64}"]


def test_a_venv_python_symlinked_to_our_base_binary_still_gets_python_flag(tmp_path: Path) -> None:
    from pipx_secure.install.pipargs import pip_command

    link = tmp_path / "bin" / "python"
    link.parent.mkdir()
    link.symlink_to(os.path.realpath(sys.executable))
    command = pip_command(link)
    assert command[-2:] == ["--python", str(link)]
    assert pip_command(Path(sys.executable)) == [sys.executable, "-m", "pip"]


def test_pip_runs_as_a_module_when_the_target_is_spips_own_interpreter(tmp_path: Path) -> None:
    argv = build_pip_install_args(
        target_python=Path(sys.executable),
        wheelhouse=tmp_path,
        requirements_file=tmp_path / "r.txt",
        options=PipOptions(),
    )
    assert argv[:4] == [sys.executable, "-m", "pip", "install"]


def test_uv_caches_left_by_killed_runs_are_removed_after_a_day(tmp_path: Path) -> None:
    import os

    from pipx_secure.install.wheelhouse import STALE_UV_CACHE_SECONDS, _remove_stale_uv_caches

    old, fresh, other = tmp_path / ".uv-run-old", tmp_path / ".uv-run-now", tmp_path / "keep"
    for directory in (old, fresh, other):
        (directory / "archive").mkdir(parents=True)
    long_ago = os.stat(old).st_mtime - STALE_UV_CACHE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    os.utime(other, (long_ago, long_ago))
    _remove_stale_uv_caches(tmp_path)
    assert not old.exists() and fresh.exists() and other.exists()
