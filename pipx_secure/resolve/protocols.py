"""What resolution asks of the world, as Protocols: project pages and core metadata.

The resolver and its provider see only these; the HTTP transport, the cache and builds
implement them elsewhere (:mod:`pipx_secure.index.pages`, :mod:`pipx_secure.install.metadata`),
and unit tests implement them from dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from packaging.utils import NormalizedName

from pipx_secure.model.coremeta import CoreMetadata
from pipx_secure.model.simple_api import ProjectPage
from pipx_secure.model.sourcemap import Index
from pipx_secure.resolve.models import Candidate


class PageSource(Protocol):
    """Project pages, each from the one index that serves the name."""

    def index_for(self, name: NormalizedName) -> Index:
        """The index that serves ``name`` (the routing decision)."""

    def page(self, name: NormalizedName) -> ProjectPage:
        """The project page of ``name`` from that index only."""

    def prefetch(
        self,
        names: Iterable[NormalizedName],
        then: Callable[[NormalizedName], None] | None = None,
    ) -> None:
        """Start fetching the pages of ``names`` (a hint; may do nothing).  ``then(name)`` is
        called, on any thread, once a page is in (fetched or failed), if it ever is."""


class MetadataSource(Protocol):
    """Core metadata of a candidate: PEP 658 file, the wheel, static PKG-INFO, or a build."""

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """The candidate's core metadata, checked against its file name."""

    def prefetch(self, candidate: Candidate) -> None:
        """Start fetching what :meth:`metadata` will need (a hint; may do nothing)."""

    def speculate(self, candidate: Candidate, then: Callable[[CoreMetadata], None]) -> None:
        """If the candidate's metadata is cheap to have (no download, no build), get it in the
        background and call ``then`` with it, on any thread (a hint; may do nothing)."""
