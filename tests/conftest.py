"""Fixtures: a world of two real index servers, built once per test session (per xdist worker).

PRIVATE demands basic auth and holds the company's packages; PUBLIC holds public packages and
impostors of every private name at version 99.0.0 whose build (or backend import) writes a
marker file.  Credentials reach spip through the real keyring library with a file backend.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.environment import clean_env, make_venv, store_password
from tests.support.packages import (
    build_backend_wheel,
    build_sdist,
    build_wheel,
)
from tests.support.servers import IndexServer, start_server

USERNAME = "acme-ci"
PRIVATE_NAMES = ("acme-core", "acme-utils", "acme-backend", "acme-built", "acme-extras")


@dataclass
class World:
    private: IndexServer
    public: IndexServer
    markers: Path
    root: Path

    @property
    def password(self) -> str:
        assert self.private.password is not None
        return self.private.password

    def write_map(self, path: Path, *, strict: bool = False, extra_rules: str = "") -> Path:
        path.write_text(
            ("strict = true\n" if strict else 'default = "public"\n')
            + f'[indexes.private]\nurl = "{self.private.url}"\nusername = "{USERNAME}"\n'
            + f'[indexes.public]\nurl = "{self.public.url}"\n'
            + '[packages]\n"acme-*" = "private"\n'
            + extra_rules
        )
        return path

    def marker_files(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir()) if self.markers.exists() else []


def _build_world(root: Path) -> World:
    markers = root / "markers"
    private_dir = root / "private-packages"
    public_dir = root / "public-packages"
    # The company's packages.
    build_wheel(private_dir, "acme-core", "1.0.0")
    build_wheel(private_dir, "acme-core", "1.1.0")
    build_wheel(private_dir, "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    build_backend_wheel(private_dir, "acme-backend", "1.0.0")
    build_sdist(
        private_dir,
        "acme-built",
        "1.0.0",
        build_requires=["acme-backend"],
        backend="acme_backend",
        static_metadata=False,
        requires=["acme-core"],
    )
    build_wheel(private_dir, "acme-extras", "1.0.0", extras={"fast": ["acme-core"]})
    # Public packages, and impostors of every private name.
    build_wheel(public_dir, "publicdep", "1.0.0", requires=["acme-core"])
    build_wheel(public_dir, "requests-lite", "2.0.0")
    for name in ("acme-core", "acme-utils", "acme-built", "acme-extras"):
        build_sdist(public_dir, name, "99.0.0", in_tree_backend_marker=markers / name)
    build_backend_wheel(public_dir, "acme-backend", "99.0.0", marker=markers / "acme-backend")
    password = secrets.token_urlsafe(18)
    private = start_server(
        private_dir, root / "private-server", username=USERNAME, password=password
    )
    public = start_server(public_dir, root / "public-server")
    return World(private, public, markers, root)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("world")
    built = _build_world(root)
    try:
        yield built
    finally:
        built.private.stop()
        built.public.stop()


@pytest.fixture
def markers_cleared(world: World) -> World:
    if world.markers.exists():
        shutil.rmtree(world.markers)
    return world


@pytest.fixture
def env(tmp_path: Path, markers_cleared: World) -> dict[str, str]:
    """A clean environment whose keyring holds the private index's password."""
    environment = clean_env(tmp_path)
    store_password(environment, markers_cleared.private.url, USERNAME, markers_cleared.password)
    return environment


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path / "target")


@pytest.fixture
def spip_map(tmp_path: Path, world: World) -> Path:
    return world.write_map(tmp_path / "spip.toml")
