"""Arbitrary input to the map parser and the lock reader: a value or a spip error, never a crash."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipx_secure.errors import SpipError
from pipx_secure.model.maptoml import parse_source_map
from pipx_secure.model.pylock import pylock_from_dict

toml_values = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)
map_keys = st.sampled_from(["default", "strict", "indexes", "packages", "other"])
index_specs = st.dictionaries(
    st.sampled_from(["url", "username", "ca-bundle", "file-hosts", "x"]),
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["https://a.example/simple", "https://u:p@a.example/simple"]),
        toml_values,
    ),
    max_size=4,
)
maps = st.fixed_dictionaries(
    {},
    optional={
        "default": st.one_of(st.text(max_size=8), st.sampled_from(["a", "b"]), toml_values),
        "strict": st.one_of(st.booleans(), toml_values),
        "indexes": st.one_of(
            st.dictionaries(st.sampled_from(["a", "b", "bad name", ""]), index_specs, max_size=3),
            toml_values,
        ),
        "packages": st.one_of(
            st.dictionaries(
                st.text(max_size=12),
                st.one_of(st.sampled_from(["a", "b"]), toml_values),
                max_size=5,
            ),
            toml_values,
        ),
    },
)


def pip_default() -> tuple[str, tuple[str, ...]]:
    return "https://pip-default.example/simple/", ()


@settings(max_examples=300, deadline=None)
@given(maps, st.lists(st.text(max_size=16), max_size=4))
def test_map_parser_and_routing(data: dict[str, Any], names: list[str]) -> None:
    with contextlib.suppress(SpipError):
        source_map = parse_source_map(data, origin="fuzz.toml", pip_default=pip_default)
        for name in names:
            with contextlib.suppress(SpipError):
                source_map.index_for(name)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["lock-version", "created-by", "packages", "environments", "requires-python", "x"]
        ),
        toml_values,
        max_size=5,
    )
)
def test_lock_reader(data: dict[str, Any]) -> None:
    with contextlib.suppress(SpipError):
        pylock_from_dict(data, "fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["name", "version", "index", "wheels", "sdist", "marker"]),
            st.one_of(st.text(max_size=20), toml_values),
            max_size=5,
        ),
        max_size=3,
    )
)
def test_lock_reader_packages(packages: list[dict[str, Any]]) -> None:
    data = {"lock-version": "1.0", "created-by": "fuzz", "packages": packages}
    with contextlib.suppress(SpipError):
        pylock_from_dict(data, "fuzz.toml")
