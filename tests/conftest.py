"""Fixtures: a world of two real index servers, built once per test session (per xdist worker).

PRIVATE demands basic auth and holds the company's packages; PUBLIC holds public packages and
impostors of every private name at version 99.0.0 whose build (or backend import) writes a
marker file.  Credentials reach spip through the real keyring library with a file backend.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.environment import clean_env, make_venv, store_password
from tests.support.servers import FaultProxy, start_fault_proxy
from tests.support.world import USERNAME, World, build_world

__all__ = ["USERNAME", "World"]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("world")
    built = build_world(root)
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


@pytest.fixture
def fault_proxy(world: World, tmp_path: Path) -> Iterator[FaultProxy]:
    """A fault proxy in front of the private index (no faults until rules are set)."""
    started = start_fault_proxy(world.private.url[: -len("/simple/")], tmp_path / "proxy")
    try:
        yield started
    finally:
        started.stop()
