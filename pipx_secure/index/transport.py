"""The transport: every byte spip reads from an index or a URL comes through here.

:class:`Transport` is what the rest of spip sees (and what tests fake): project pages of an
explicit index, PEP 658/714 metadata files checked against their own hash, verified artifact
downloads into the content-addressed cache (hashed while they stream, coalesced per digest,
retried when a transfer breaks), and direct-URL archives.  :class:`HttpTransport` is the real
one; with ``credentials=None`` it is anonymous (the exposure scan).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import requests
from packaging.utils import NormalizedName

from pipx_secure.config.credentials import CredentialStore
from pipx_secure.errors import IndexError_, IntegrityError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.http import HttpSettings, Requester, bounded_body
from pipx_secure.index.tls import TrustSettings, TrustStore
from pipx_secure.model.hashes import Digest, best_expected, verify_bytes
from pipx_secure.model.redact import RedactedUrl
from pipx_secure.model.simple_api import ACCEPT_HEADER, FileLink, ProjectPage, parse_project_page
from pipx_secure.model.sourcemap import Index, IndexName

if TYPE_CHECKING:
    from pipx_secure.index.ranges import ByteRange

MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_PAGE_BYTES = 64 * 1024 * 1024
DOWNLOAD_CHUNK = 64 * 1024  # small enough that progress moves and Ctrl-C stops a transfer fast
T = TypeVar("T")


class DownloadProgress(Protocol):
    """Told how each download goes (the CLI shows bytes and rate on a terminal)."""

    def download_started(self, name: str, total: int | None) -> None:
        """A download of ``name`` began (``total`` bytes if known)."""

    def download_advanced(self, name: str, size: int) -> None:
        """``size`` more bytes of ``name`` arrived."""

    def download_finished(self, name: str) -> None:
        """``name`` is complete (or failed)."""

    @property
    def tracing(self) -> bool:
        """Whether :meth:`http_decision` is shown (the lines are made only then)."""

    def http_decision(self, text: str) -> None:
        """One request and what spip decided about it (shown with ``-vv``; already redacted)."""


class Cancelled(Exception):
    """The transport was closed while a transfer ran (Ctrl-C)."""


class Transport(Protocol):
    """HTTP for every caller of spip (implemented by :class:`HttpTransport` and test fakes)."""

    def project_page(self, index: Index, name: NormalizedName) -> ProjectPage:
        """The project page of ``name`` on ``index`` (an empty page for 404)."""

    def metadata_file(self, index: Index, link: FileLink) -> bytes | None:
        """The PEP 658 metadata file of ``link``, hash-checked; None if the index has none."""

    def download(self, index: Index, link: FileLink) -> Path:
        """The verified artifact in the cache, downloading it if needed."""

    def fetch_url(self, url: str, expected: Digest, dest: Path, what: str) -> None:
        """Download a direct URL (no credentials) to ``dest``, checked against ``expected``."""

    def read_range(
        self, index: Index, link: FileLink, first: int, last: int | None
    ) -> ByteRange | None:
        """Bytes ``first..last`` of ``link``'s file (``first`` < 0: the last ``-first`` bytes);
        None when the server ignores ranges.  Not hash-checked: the caller says so."""

    def check_access(self, index: Index) -> None:
        """Fetch the index root; raises AuthError on 401/403."""

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function`` in the background (pages and metadata prefetch)."""

    def close(self) -> None:
        """Release threads and connections."""


def expected_digest(index: Index, link: FileLink) -> Digest:
    """The strongest hash ``index`` published for ``link``; refused when there is none."""
    expected = best_expected(link.hashes)
    if expected is None:
        raise IntegrityError(
            f"index {index.name} ({index.redacted}) publishes no hash for {link.filename}",
            hint="spip installs only artifacts whose hash the index publishes (PEP 503 "
            "#sha256= fragments or PEP 691 hashes)",
        )
    return expected


class _Interrupted(Exception):
    """A transfer broke mid-body (reset, short read): worth another try."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpTransport:
    """The real transport: pooled sessions, an HTTP cache for pages, verified downloads."""

    def __init__(
        self,
        credentials: CredentialStore | None,
        cache: ArtifactCache,
        settings: HttpSettings | None = None,
        *,
        http_cache: bool = True,
        trust_settings: TrustSettings | None = None,
        environ: Mapping[str, str] | None = None,
        progress: DownloadProgress | None = None,
    ) -> None:
        self.progress = progress
        self._cancelled = threading.Event()
        self._partials: set[Path] = set()
        self.cache = cache
        self.settings = settings or HttpSettings.from_environ()
        trust = TrustStore(trust_settings or TrustSettings.from_environ(environ or os.environ))
        http_dir = str(cache.http_dir) if http_cache else None
        trace = progress.http_decision if progress is not None and progress.tracing else None
        self.requester = Requester(
            credentials, self.settings, trust, http_dir, cache.sealer, cache.note, trace=trace
        )
        # Direct URLs never get credentials.
        self._anonymous = Requester(None, self.settings, trust, trace=trace)
        # Two pools: page/metadata tasks may wait on downloads, downloads wait on nothing.
        self._tasks = ThreadPoolExecutor(max_workers=self.settings.workers)
        self._download_pool = ThreadPoolExecutor(max_workers=self.settings.workers)
        self._lock = threading.Lock()
        self._downloads: dict[str, Future[Path]] = {}

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this transport sent (redirect hops included)."""
        return self.requester.count

    def close(self) -> None:
        """Release threads and connections; transfers still running stop at their next chunk
        and leave no partial file (this returns at once, as Ctrl-C needs)."""
        self._cancelled.set()
        self._tasks.shutdown(wait=False, cancel_futures=True)
        self._download_pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            partials = list(self._partials)
        for partial in partials:
            partial.unlink(missing_ok=True)
        self.requester.close()
        self._anonymous.close()

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function`` on the task pool."""
        return self._tasks.submit(function, *args)

    # -- pages and metadata ---------------------------------------------------------------
    def project_page(self, index: Index, name: NormalizedName) -> ProjectPage:
        """The project page of ``name`` on ``index`` (PEP 691 JSON preferred, HTML fallback)."""
        url = index.project_url(name)
        what = f"project page of {name!r}"
        response = self.requester.get(
            "pages",
            index,
            url,
            headers={"Accept": ACCEPT_HEADER, "Cache-Control": "max-age=0"},
            what=what,
            same_origin_only=True,
        )
        try:
            if response.status_code == 404:
                return ProjectPage(name=name, url=url, files=(), rejected=(), api_version=None)
            content_type = response.headers.get("Content-Type", "text/html")
            body = bounded_body(response, index, what, MAX_PAGE_BYTES)
        finally:
            response.close()
        try:
            return parse_project_page(body, content_type, response.url or url, name)
        except IntegrityError as exc:
            raise IntegrityError(
                f"index {index.name}, project {name!r}: {exc.message}", hint=exc.hint
            ) from None

    def metadata_file(self, index: Index, link: FileLink) -> bytes | None:
        """The PEP 658 metadata file of ``link``, checked against its published hash."""
        if link.metadata is None:
            return None
        what = f"metadata of {link.filename}"
        response = self.requester.get("files", index, link.metadata_url, what=what)
        try:
            if response.status_code == 404:
                return None  # advertised but missing: the caller falls back to the wheel
            data = bounded_body(response, index, what, MAX_METADATA_BYTES)
        finally:
            response.close()
        expected = best_expected(link.metadata)
        if expected is not None:
            verify_bytes(data, expected, what)
        return data

    def project_list(self, index: Index) -> tuple[NormalizedName, ...]:
        """Every project name the index's root page lists (PEP 503/691); () when it has none."""
        from pipx_secure.model.simple_root import parse_root_page

        what = "the project list"
        response = self.requester.get(
            "files", index, index.url, headers={"Accept": ACCEPT_HEADER}, what=what
        )
        try:
            if response.status_code != 200:
                return ()
            content_type = response.headers.get("Content-Type", "text/html")
            body = bounded_body(response, index, what, MAX_PAGE_BYTES)
        finally:
            response.close()
        return parse_root_page(body, content_type, str(index.redacted))

    def check_access(self, index: Index) -> None:
        """Fetch the index root; raises AuthError on 401/403."""
        self.requester.get("files", index, index.url, what="the index root").close()

    def read_range(
        self, index: Index, link: FileLink, first: int, last: int | None
    ) -> ByteRange | None:
        """One range of ``link``'s file (RFC 9110 §14); None unless the server answers 206."""
        from pipx_secure.index.ranges import ByteRange, RangeError, parse_content_range

        spec = f"bytes={first}" if first < 0 else f"bytes={first}-{'' if last is None else last}"
        what = f"{link.filename} ({spec})"
        headers = {"Range": spec, "Accept-Encoding": "identity"}
        response = self.requester.get(
            "files", index, link.url, headers=headers, stream=True, what=what
        )
        try:
            if response.status_code != 206:
                return None
            wanted = -first if first < 0 else (last or first) - first + 1
            body = bounded_body(response, index, what, max(wanted, 1))
            try:
                start, total = parse_content_range(response.headers.get("Content-Range"), len(body))
            except RangeError:
                return None
        finally:
            response.close()
        return ByteRange(start, body, total)

    # -- artifacts --------------------------------------------------------------------------
    def download(self, index: Index, link: FileLink) -> Path:
        """The verified artifact in the cache, downloading it if needed (coalesced)."""
        expected = expected_digest(index, link)
        with self._lock:
            future = self._downloads.get(str(expected))
            if future is None:
                future = self._download_pool.submit(self._download, index, link, expected)
                self._downloads[str(expected)] = future
        return future.result()

    def _download(self, index: Index, link: FileLink, expected: Digest) -> Path:
        found = self.cache.lookup(expected, link.filename)
        if found is not None:
            return found
        with self.cache.lock(expected):
            found = self.cache.lookup(expected, link.filename)
            if found is not None:
                return found
            self.cache.clean_partials(expected)  # a killed run's leftovers: we hold the lock
            attempt = 0
            while True:
                try:
                    return self._download_once(index, link, expected)
                except _Interrupted as exc:
                    # A reset or short read mid-body: retried like a failed connection.
                    attempt += 1
                    if attempt > self.settings.retries:
                        raise IndexError_(
                            f"download of {link.filename} from index {index.name} "
                            f"({index.redacted}) failed: {exc.reason}",
                            hint=f"the transfer broke {attempt} times; check the index and "
                            "network, then run again",
                        ) from None
                    time.sleep(self.settings.backoff * (2 ** (attempt - 1)))

    def _download_once(self, index: Index, link: FileLink, expected: Digest) -> Path:
        fd, temp = self.cache.temp_file(expected)
        with self._lock:
            self._partials.add(temp)
        try:
            with os.fdopen(fd, "wb") as handle:
                actual = self._stream(index, link.url, link.filename, handle, expected.algorithm)
            if not expected.matches(actual):
                raise IntegrityError(
                    f"hash mismatch for {link.filename} from index {index.name}: "
                    f"published {expected}, served {expected.algorithm}:{actual}",
                    hint="the index served other bytes than it published; nothing was installed",
                )
            return self.cache.commit(temp, expected, link.filename)
        finally:
            temp.unlink(missing_ok=True)
            with self._lock:
                self._partials.discard(temp)

    def _stream(
        self,
        index: Index,
        url: str,
        what: str,
        handle: Any,
        algorithm: str,
        requester: Requester | None = None,
    ) -> str:
        """Write the body of ``url`` to ``handle`` while hashing it; returns the hex digest."""
        hasher = hashlib.new(algorithm)
        if self._cancelled.is_set():
            raise Cancelled(what)
        response = (requester or self.requester).get("files", index, url, stream=True, what=what)
        progress = self.progress
        total = response.headers.get("Content-Length")
        if progress is not None:
            progress.download_started(what, int(total) if total and total.isdigit() else None)
        try:
            if response.status_code != 200:
                raise IndexError_(
                    f"index {index.name} answered {response.status_code} for {what} "
                    f"({RedactedUrl(url)})",
                    hint="the file listed on the project page could not be fetched",
                )
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                if self._cancelled.is_set():
                    raise Cancelled(what)
                hasher.update(chunk)
                handle.write(chunk)
                if progress is not None:
                    progress.download_advanced(what, len(chunk))
        except requests.RequestException as exc:
            raise _Interrupted(type(exc).__name__) from None
        finally:
            response.close()
            if progress is not None:
                progress.download_finished(what)
        return hasher.hexdigest()

    def fetch_url(self, url: str, expected: Digest, dest: Path, what: str) -> None:
        """A direct-URL archive: anonymous, retried, checked against ``expected``."""
        anonymous = Index(IndexName("direct-url"), url)
        attempt = 0
        while True:
            try:
                with dest.open("wb") as handle:
                    actual = self._stream(
                        anonymous, url, what, handle, expected.algorithm, self._anonymous
                    )
                break
            except _Interrupted as exc:
                attempt += 1
                if attempt > self.settings.retries:
                    raise IndexError_(
                        f"{what}: cannot fetch {RedactedUrl(url)}: {exc.reason}"
                    ) from None
                time.sleep(self.settings.backoff * (2 ** (attempt - 1)))
        if not expected.matches(actual):
            dest.unlink(missing_ok=True)
            raise IntegrityError(f"{what}: hash mismatch for {RedactedUrl(url)}")
