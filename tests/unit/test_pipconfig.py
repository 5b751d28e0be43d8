"""pip's own index is read from pip's configuration at run time; extras are reported."""

from __future__ import annotations

import os
from pathlib import Path

from pipx_secure.config.pipconfig import builtin_index_url, read_pip_index_config


def test_config_file_index_and_ignored_extras(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.example/simple/\n"
        "extra-index-url = https://other.example/simple/\n"
    )
    found = read_pip_index_config({"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)})
    assert found.index_url == "https://mirror.example/simple/"
    assert "extra-index-url" in found.ignored


def test_environment_wins_and_builtin_default_comes_from_pip(tmp_path: Path) -> None:
    env = {
        "PIP_CONFIG_FILE": os.devnull,
        "HOME": str(tmp_path),
        "PIP_INDEX_URL": "https://env.example/simple/",
    }
    assert read_pip_index_config(env).index_url == "https://env.example/simple/"
    bare = read_pip_index_config({"PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)})
    assert bare.index_url == builtin_index_url() and bare.ignored == ()
