"""What pip itself is configured with: its index URL, read at run time.

spip never spells a public index's host name; when a source map names no default index, the
default is whatever pip would use (its configuration files, ``PIP_INDEX_URL``, or pip's
built-in default).  Extra indexes and find-links from pip's configuration are *never* merged
in: they are reported once so the user knows they are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class PipIndexConfig:
    """pip's configured primary index, and the settings spip deliberately ignores."""

    index_url: str
    ignored: tuple[str, ...]


def builtin_index_url() -> str:
    """pip's built-in default index (the public one), read from pip."""
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url)


def read_pip_index_config(environ: dict[str, str] | None = None) -> PipIndexConfig:
    """Read pip's primary index URL from its configuration and environment.

    Any ``extra-index-url`` or ``find-links`` pip is configured with is listed in ``ignored``.
    """
    env = dict(os.environ if environ is None else environ)
    values: dict[str, str] = {}
    try:
        from pip._internal.configuration import Configuration

        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            config = Configuration(isolated=False)
            config.load()
            for key, value in config.items():
                if isinstance(value, dict):  # pip >= 23.x: (file, {key: value}) per file
                    for inner_key, inner_value in value.items():
                        values[f"{key}|{inner_key}"] = str(inner_value)
                else:
                    values[key] = str(value)
        finally:
            os.environ.clear()
            os.environ.update(saved)
    except Exception:  # pip's internals moved or its config is broken: use its built-in default
        values = {}
    index_url = builtin_index_url()
    ignored: list[str] = []
    for key in values:  # pip's load order: later files override earlier ones
        option = key.rpartition(".")[2]
        if option == "index-url":
            index_url = values[key].split()[0] if values[key].split() else index_url
        elif option in ("extra-index-url", "find-links"):
            ignored.append(option)
    env_index = env.get("PIP_INDEX_URL", "").split()
    if env_index:
        index_url = env_index[0]
    for var, option in (
        ("PIP_EXTRA_INDEX_URL", "extra-index-url"),
        ("PIP_FIND_LINKS", "find-links"),
    ):
        if env.get(var, "").strip():
            ignored.append(option)
    return PipIndexConfig(index_url=index_url, ignored=tuple(sorted(set(ignored))))
