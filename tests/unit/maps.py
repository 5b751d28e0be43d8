"""The source map most unit tests share: ``acme-*`` private, everything else public."""

from __future__ import annotations

from pipx_secure.model.maptoml import parse_source_map
from pipx_secure.model.sourcemap import SourceMap


def acme_map() -> SourceMap:
    """A map routing ``acme-*`` to ``private`` with ``public`` as the default."""
    return parse_source_map(
        {
            "default": "public",
            "indexes": {
                "public": {"url": "https://public.example/simple/"},
                "private": {"url": "https://private.example/simple/"},
            },
            "packages": {"acme-*": "private"},
        },
        origin="spip.toml",
    )
