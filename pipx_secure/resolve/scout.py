"""The scout: walks the likely dependency graph ahead of the resolver.

resolvelib learns a candidate's dependencies only when it pins it, so fetching each name's
project page when the resolver first asks for it puts one index round trip per level of the
graph on the resolver's path.  The scout instead follows every page as it arrives: it guesses
the candidate the resolver will most likely pick (:meth:`RoutedProvider.likely`), reads that
candidate's metadata when it is cheap to have (the sealed cache or a PEP 658 file; never a
download or a build), and asks for the pages of its dependencies at once.  So the whole
frontier is in flight while the resolver works.

It only warms the same memoized sources the resolver reads (pages through the routing
``PageSource``, metadata through the ``MetadataSource``): what is resolved does not change, a
wrong guess costs a page or a metadata file, and every error is left for the resolver to meet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.model.coremeta import CoreMetadata
from pipx_secure.resolve.provider import RoutedProvider


class Scout:
    """Prefetches pages and metadata along the dependencies of the likeliest candidates."""

    def __init__(self, provider: RoutedProvider) -> None:
        self.provider = provider
        self._seen: set[NormalizedName] = set()
        self._lock = threading.Lock()

    def explore(self, names: Iterable[NormalizedName]) -> None:
        """Fetch the pages of ``names`` (each once), and follow each as it arrives.

        Raises what ``PageSource.prefetch`` raises (a name a strict map does not route)."""
        local = self.provider.options.local
        with self._lock:
            new = [n for n in dict.fromkeys(names) if n not in self._seen and n not in local]
            self._seen.update(new)
        if new:
            self.provider.pages.prefetch(new, self._page_in)

    def _page_in(self, name: NormalizedName) -> None:
        """A page arrived (on a worker thread): read the likeliest candidate's metadata."""
        if self.provider.options.no_deps:
            return
        try:
            candidate = self.provider.likely(name)
        except Exception:
            return  # the resolver meets the same error when it asks
        if candidate is not None:
            self.provider.metadata.speculate(candidate, self._metadata_in)

    def _metadata_in(self, meta: CoreMetadata) -> None:
        """Metadata arrived: explore the dependencies that apply without extras."""
        try:
            self.explore(
                canonicalize_name(r.name) for r in meta.requires_dist if self.provider.applies(r)
            )
        except Exception:
            return
