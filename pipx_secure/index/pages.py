"""Project pages through the source map: :class:`RoutedPages` is the resolver's PageSource.

``RoutedPages.page(name)`` asks ``SourceMap.index_for(name)`` and then that index only: no
caller can ask another index about a name.  :class:`IndexPages` reads one explicit index (the
audit's exposure scan and forwarding probe, ``spip check --online``).  Pages are fetched once
per process and may be prefetched in the background.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import ForwardingError
from pipx_secure.index.transport import Transport
from pipx_secure.model.simple_api import ProjectPage
from pipx_secure.model.sourcemap import Index, SourceMap


class _PageCache:
    """One fetch per name, shared by every caller; prefetches run on the transport's pool."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._lock = threading.Lock()
        self._futures: dict[NormalizedName, Future[ProjectPage]] = {}

    def future(self, index: Index, name: NormalizedName) -> Future[ProjectPage]:
        with self._lock:
            found = self._futures.get(name)
            if found is None:
                found = self.transport.submit(self.transport.project_page, index, name)
                self._futures[name] = found
            return found


class RoutedPages:
    """Pages of every name from the index the source map assigns to it (the only routing)."""

    def __init__(self, source_map: SourceMap, transport: Transport) -> None:
        self.source_map = source_map
        self.transport = transport
        self._cache = _PageCache(transport)

    def index_for(self, name: NormalizedName) -> Index:
        """The index that serves ``name``."""
        return self.source_map.index_for(name).index

    def page(self, name: NormalizedName) -> ProjectPage:
        """The project page of ``name`` from its assigned index (and only that index)."""
        key = canonicalize_name(name)
        try:
            return self._cache.future(self.index_for(key), key).result()
        except ForwardingError as exc:
            route = self.source_map.index_for(key)
            raise ForwardingError(
                exc.message,
                hint=f"{route.explain()}. If {key} is not one of {route.index.name}'s own "
                f'packages, add the exact rule "{key}" = "<the index that publishes it>" under '
                f"[packages]; never list another index's host in file-hosts",
                index=exc.index,
            ) from None

    def prefetch(
        self,
        names: Iterable[NormalizedName],
        then: Callable[[NormalizedName], None] | None = None,
    ) -> None:
        """Start fetching the pages of ``names`` in the background; ``then(name)`` runs when
        each is in (on the thread that fetched it, or here if it already was)."""
        for name in names:
            key = canonicalize_name(name)
            future = self._cache.future(self.index_for(key), key)
            if then is not None:
                future.add_done_callback(_calling(then, key))


class IndexPages:
    """Pages of any name from one explicit index (no routing: the caller chose the index)."""

    def __init__(self, index: Index, transport: Transport) -> None:
        self.index = index
        self.transport = transport
        self._cache = _PageCache(transport)

    def index_for(self, name: NormalizedName) -> Index:
        """Always this index."""
        return self.index

    def page(self, name: NormalizedName) -> ProjectPage:
        """The project page of ``name`` on this index."""
        key = canonicalize_name(name)
        return self._cache.future(self.index, key).result()

    def prefetch(
        self,
        names: Iterable[NormalizedName],
        then: Callable[[NormalizedName], None] | None = None,
    ) -> None:
        """Start fetching the pages of ``names`` in the background (``then``: as above)."""
        for name in names:
            key = canonicalize_name(name)
            future = self._cache.future(self.index, key)
            if then is not None:
                future.add_done_callback(_calling(then, key))


def _calling(
    then: Callable[[NormalizedName], None], name: NormalizedName
) -> Callable[[Future[ProjectPage]], None]:
    """A done-callback that tells ``then`` about ``name``; it never raises (a future would
    log the exception) and stays silent for a cancelled fetch (the transport was closed)."""

    def done(future: Future[ProjectPage]) -> None:
        if future.cancelled():
            return
        try:
            then(name)
        except Exception:
            return

    return done
