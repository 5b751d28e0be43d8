"""A transport that never touches the network: ``spip sync --offline`` and complete caches.

Every artifact it returns comes from the content-addressed cache, re-hashed; anything that
would need an index (a project page, a metadata file, a download the cache cannot answer, a
direct URL) raises :class:`OfflineError` naming what was missing.  Commands hand it to the
workspace when nothing has to be fetched, so "no network" holds by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from packaging.utils import NormalizedName

from pipx_secure.errors import IndexError_
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.ranges import ByteRange
from pipx_secure.index.transport import expected_digest
from pipx_secure.model.hashes import Digest
from pipx_secure.model.simple_api import FileLink, ProjectPage
from pipx_secure.model.sourcemap import Index

T = TypeVar("T")


class OfflineError(IndexError_):
    """Something needed an index while spip was told, or chose, to stay offline."""


class OfflineTransport:
    """A :class:`~pipx_secure.index.transport.Transport` over the cache only."""

    def __init__(self, cache: ArtifactCache, why: str = "--offline") -> None:
        self.cache = cache
        self.why = why

    def _refuse(self, what: str, index: Index | None = None) -> OfflineError:
        where = f" from index {index.name} ({index.redacted})" if index is not None else ""
        return OfflineError(
            f"offline ({self.why}): {what} would need the network{where}",
            hint="run without --offline, or put the files in spip's cache or a --wheelhouse",
        )

    def project_page(self, index: Index, name: NormalizedName) -> ProjectPage:
        """Refused: pages need the index."""
        raise self._refuse(f"the project page of {name!r}", index)

    def metadata_file(self, index: Index, link: FileLink) -> bytes | None:
        """Refused: metadata files need the index."""
        raise self._refuse(f"the metadata of {link.filename}", index)

    def download(self, index: Index, link: FileLink) -> Path:
        """The cached artifact (re-hashed), or refused."""
        found = self.cache.lookup(expected_digest(index, link), link.filename)
        if found is None:
            raise self._refuse(f"downloading {link.filename}", index)
        return found

    def fetch_url(self, url: str, expected: Digest, dest: Path, what: str) -> None:
        """Refused: direct URLs need the network."""
        raise self._refuse(what)

    def read_range(
        self, index: Index, link: FileLink, first: int, last: int | None
    ) -> ByteRange | None:
        """Refused: ranges need the index."""
        raise self._refuse(f"reading {link.filename}", index)

    def check_access(self, index: Index) -> None:
        """Refused."""
        raise self._refuse("checking access", index)

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function`` now (there is nothing to wait for offline)."""
        future: Future[T] = Future()
        try:
            future.set_result(function(*args))
        except Exception as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Nothing to release."""
