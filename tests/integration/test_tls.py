"""A private index over HTTPS with its own CA: the map's per-index ca-bundle replaces
pip's global --trusted-host."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.certificates import make_ca_and_server_cert
from tests.support.environment import installed, make_venv, run_spip, store_password
from tests.support.packages import build_wheel
from tests.support.servers import start_server

pytestmark = pytest.mark.slow


def test_private_index_with_its_own_certificate_authority(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    ca, cert, key = make_ca_and_server_cert(tmp_path / "pki")
    root = tmp_path / "tls-packages"
    build_wheel(root, "acme-secure", "1.0.0", requires=["publicdep"])
    server = start_server(
        root, tmp_path / "tls-server", username=USERNAME, password=world.password, tls=(cert, key)
    )
    try:
        assert server.url.startswith("https://127.0.0.1:")
        store_password(env, server.url, USERNAME, world.password)
        trusted = tmp_path / "trusted.toml"
        trusted.write_text(
            f'default = "public"\n[indexes.corp]\nurl = "{server.url}"\n'
            f'username = "{USERNAME}"\nca-bundle = "pki/ca.pem"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n'
            '[packages]\n"acme-secure" = "corp"\n"acme-*" = "private"\n'
            f'[indexes.private]\nurl = "{world.private.url}"\nusername = "{USERNAME}"\n'
        )
        store_password(env, world.private.url, USERNAME, world.password)
        venv = make_venv(tmp_path / "v")
        result = run_spip(
            ["install", "--map", str(trusted), "--python", str(venv), "acme-secure"],
            env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {
            "acme-secure": "1.0.0",
            "publicdep": "1.0.0",
            "acme-core": "1.1.0",
        }
        assert ca.exists()
        untrusted = tmp_path / "untrusted.toml"
        untrusted.write_text(trusted.read_text().replace('ca-bundle = "pki/ca.pem"\n', ""))
        other = make_venv(tmp_path / "w")
        refused = run_spip(
            ["install", "--map", str(untrusted), "--python", str(other), "acme-secure"],
            env,
            cwd=tmp_path,
        )
        assert refused.returncode == 5
        assert "certificate" in refused.stderr and "ca-bundle" in refused.stderr
        assert installed(other) == {}
    finally:
        server.stop()
