"""The one place spip talks HTTP to package indexes.

Every project page request is routed here through ``SourceMap.index_for(name)``: a caller
cannot ask another index about a name.  Pages are fetched with the PEP 691 Accept header
(JSON preferred, PEP 503 HTML fallback) through an HTTP cache that revalidates (ETag /
Last-Modified); artifacts and PEP 658/714 metadata files are verified against the hashes the
index published while they stream.  Credentials are attached only to requests whose origin is
the index's own (or a host the map lists in ``file-hosts``), also across redirects.
"""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from packaging.utils import NormalizedName, canonicalize_name
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pipx_secure import __version__
from pipx_secure.config.credentials import CredentialStore
from pipx_secure.errors import AuthError, IndexError_, IntegrityError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.model.hashes import CHUNK, Digest, best_expected, verify_bytes
from pipx_secure.model.redact import RedactedUrl, origin_of
from pipx_secure.model.simple_api import ACCEPT_HEADER, FileLink, ProjectPage, parse_project_page
from pipx_secure.model.sourcemap import Index, SourceMap

MAX_REDIRECTS = 5
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_PAGE_BYTES = 64 * 1024 * 1024
USER_AGENT = f"spip/{__version__}"


@dataclass(frozen=True)
class HttpSettings:
    """Network settings, fixed at the CLI boundary."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.25
    workers: int = 16

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """``SPIP_TIMEOUT`` (seconds) and ``SPIP_RETRIES`` override the defaults."""
        env = os.environ if environ is None else environ
        settings = cls()
        try:
            if env.get("SPIP_TIMEOUT"):
                timeout = float(env["SPIP_TIMEOUT"])
                settings = replace(settings, connect_timeout=timeout, read_timeout=timeout)
            if env.get("SPIP_RETRIES"):
                settings = replace(settings, retries=max(0, int(env["SPIP_RETRIES"])))
        except ValueError:
            from pipx_secure.errors import UsageError

            raise UsageError(
                "SPIP_TIMEOUT must be a number of seconds and SPIP_RETRIES a whole number"
            ) from None
        return settings


def _retry(settings: HttpSettings) -> Retry:
    return Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        redirect=False,
    )


def _plain_session(settings: HttpSettings) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no netrc auto-auth, no env CA/proxy surprises: we decide
    adapter = HTTPAdapter(
        pool_connections=8, pool_maxsize=settings.workers, max_retries=_retry(settings)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _page_session(settings: HttpSettings, cache: ArtifactCache | None) -> requests.Session:
    if cache is None:
        return _plain_session(settings)
    from cachecontrol.adapter import CacheControlAdapter
    from cachecontrol.caches.file_cache import FileCache
    from cachecontrol.serialize import Serializer

    class _NoSecretSerializer(Serializer):
        """Never let a request's Authorization header reach the cache on disk."""

        def dumps(self, request: Any, response: Any, body: bytes | None = None) -> bytes:
            request = request.copy()
            request.headers.pop("Authorization", None)
            return super().dumps(request, response, body)

    session = requests.Session()
    session.trust_env = False
    from cachecontrol.heuristics import BaseHeuristic

    class _Revalidate(BaseHeuristic):
        """Store pages that carry only Last-Modified, so they can be revalidated (304).

        Every page request says ``Cache-Control: max-age=0``, so a stored page is never used
        without the index confirming it (If-Modified-Since / If-None-Match).
        """

        def update_headers(self, response: Any) -> dict[str, str]:
            headers = response.headers
            if "last-modified" in headers and not (
                "etag" in headers or "expires" in headers or "cache-control" in headers
            ):
                from email.utils import formatdate

                return {"expires": formatdate(time.time() + 86400, usegmt=True)}
            return {}

    adapter = CacheControlAdapter(
        cache=FileCache(str(cache.http_dir)),
        serializer=_NoSecretSerializer(),
        heuristic=_Revalidate(),
        pool_connections=8,
        pool_maxsize=settings.workers,
        max_retries=_retry(settings),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class IndexClient:
    """Routed, authenticated, verified access to the indexes of a source map."""

    def __init__(
        self,
        source_map: SourceMap,
        credentials: CredentialStore,
        cache: ArtifactCache,
        settings: HttpSettings | None = None,
        *,
        http_cache: bool = True,
    ) -> None:
        self.source_map = source_map
        self.credentials = credentials
        self.cache = cache
        self.settings = settings or HttpSettings.from_environ()
        self._pages_session = _page_session(self.settings, cache if http_cache else None)
        self._files_session = _plain_session(self.settings)
        # Two pools: page/metadata tasks may wait on downloads, downloads wait on nothing.
        self._executor = ThreadPoolExecutor(max_workers=self.settings.workers)
        self._download_pool = ThreadPoolExecutor(max_workers=self.settings.workers)
        self._lock = threading.Lock()
        self._pages: dict[NormalizedName, Future[ProjectPage]] = {}
        self._downloads: dict[str, Future[Path]] = {}
        self.requests_made = 0

    def close(self) -> None:
        """Release threads and connections."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._download_pool.shutdown(wait=True, cancel_futures=True)
        self._pages_session.close()
        self._files_session.close()

    # -- project pages ----------------------------------------------------------------------
    def page(self, name: str) -> ProjectPage:
        """The project page for ``name`` from its assigned index (and only that index)."""
        return self._page_future(canonicalize_name(name)).result()

    def prefetch(self, names: Iterable[str]) -> None:
        """Start fetching the pages of ``names`` in the background."""
        for name in names:
            self._page_future(canonicalize_name(name))

    def _page_future(self, name: NormalizedName) -> Future[ProjectPage]:
        with self._lock:
            future = self._pages.get(name)
            if future is None:
                index = self.source_map.index_for(name).index  # routing: the only place
                future = self._executor.submit(self._fetch_page, index, name)
                self._pages[name] = future
            return future

    def _fetch_page(self, index: Index, name: NormalizedName) -> ProjectPage:
        url = index.project_url(name)
        response = self._get(
            self._pages_session,
            index,
            url,
            headers={"Accept": ACCEPT_HEADER, "Cache-Control": "max-age=0"},
            what=f"project page of {name!r}",
            same_origin_only=True,
        )
        try:
            if response.status_code == 404:
                return ProjectPage(name=name, url=url, files=(), rejected=(), api_version=None)
            content_type = response.headers.get("Content-Type", "text/html")
            body = self._bounded_body(response, index, f"project page of {name!r}")
            try:
                return parse_project_page(body, content_type, response.url or url, name)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"index {index.name}, project {name!r}: {exc.message}", hint=exc.hint
                ) from None
        finally:
            response.close()

    def _bounded_body(self, response: requests.Response, index: Index, what: str) -> bytes:
        """The body, refusing more than MAX_PAGE_BYTES (hostile or broken indexes)."""
        chunks = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > MAX_PAGE_BYTES:
                    raise IntegrityError(
                        f"index {index.name} ({index.redacted}) sent more than "
                        f"{MAX_PAGE_BYTES // (1024 * 1024)} MiB for the {what}; refused",
                        hint="the index is broken or hostile",
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise IndexError_(
                f"index {index.name} ({index.redacted}) failed while sending the {what}: "
                f"{type(exc).__name__}",
                hint="the index or network failed mid-transfer; run again",
            ) from None
        return b"".join(chunks)

    def prefetch_metadata(self, index: Index, link: FileLink) -> None:
        """Start fetching what resolution will need of ``link`` (metadata or the sdist)."""
        if best_expected(link.hashes) is None:
            return
        if link.is_wheel:
            self._executor.submit(_quietly, self.metadata, index, link)
        else:
            self._executor.submit(_quietly, self.download, index, link)

    def check_access(self, index: Index) -> None:
        """Fetch the index root; raises AuthError on 401/403 (used by ``spip auth check``)."""
        response = self._get(self._files_session, index, index.url, what="the index root")
        response.close()

    # -- metadata ---------------------------------------------------------------------------
    def metadata(self, index: Index, link: FileLink) -> bytes | None:
        """Core metadata of a wheel: PEP 658 file, cache, or the wheel itself.

        Returns None for sdists (the caller reads PKG-INFO or builds).
        """
        expected = self._expected(index, link)
        cached = self.cache.read_metadata(expected)
        if cached is not None:
            return cached
        if not link.is_wheel:
            return None
        data: bytes | None = None
        if link.metadata is not None:
            data = self._fetch_metadata_file(index, link)
        if data is None:
            path = self.download(index, link)
            data = read_wheel_metadata(path, link.filename)
        self.cache.write_metadata(expected, data)
        return data

    def _fetch_metadata_file(self, index: Index, link: FileLink) -> bytes | None:
        assert link.metadata is not None
        meta_expected = best_expected(link.metadata)
        response = self._get(
            self._files_session, index, link.metadata_url, what=f"metadata of {link.filename}"
        )
        try:
            if response.status_code == 404:
                return None  # advertised but missing: fall back to the wheel itself
            data = response.content
        finally:
            response.close()
        if len(data) > MAX_METADATA_BYTES:
            raise IntegrityError(f"metadata file of {link.filename} is too large")
        if meta_expected is not None:
            verify_bytes(data, meta_expected, f"metadata of {link.filename}")
        return data

    # -- artifacts --------------------------------------------------------------------------
    def _expected(self, index: Index, link: FileLink) -> Digest:
        expected = best_expected(link.hashes)
        if expected is None:
            raise IntegrityError(
                f"index {index.name} ({index.redacted}) publishes no hash for {link.filename}",
                hint="spip installs only artifacts whose hash the index publishes (PEP 503 "
                "#sha256= fragments or PEP 691 hashes)",
            )
        return expected

    def download(self, index: Index, link: FileLink) -> Path:
        """The verified artifact in the cache, downloading it if needed (coalesced)."""
        return self._download_future(index, link).result()

    def download_many(self, items: Iterable[tuple[Index, FileLink]]) -> list[Path]:
        """Download several artifacts in parallel; results in input order."""
        futures = [self._download_future(index, link) for index, link in items]
        return [f.result() for f in futures]

    def _download_future(self, index: Index, link: FileLink) -> Future[Path]:
        """One download per digest, shared by every caller in this process."""
        expected = self._expected(index, link)
        with self._lock:
            future = self._downloads.get(str(expected))
            if future is None:
                future = self._download_pool.submit(self._download, index, link, expected)
                self._downloads[str(expected)] = future
            return future

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
        import hashlib

        hasher = hashlib.new(expected.algorithm)
        fd, temp = self.cache.temp_file(expected)
        try:
            response = self._get(
                self._files_session, index, link.url, stream=True, what=link.filename
            )
            try:
                if response.status_code != 200:
                    raise IndexError_(
                        f"index {index.name} answered {response.status_code} for "
                        f"{link.filename} ({RedactedUrl(link.url)})",
                        hint="the file listed on the project page could not be fetched",
                    )
                with os.fdopen(fd, "wb") as handle:
                    fd = -1
                    for chunk in response.iter_content(CHUNK):
                        hasher.update(chunk)
                        handle.write(chunk)
            except requests.RequestException as exc:
                raise _Interrupted(type(exc).__name__) from None
            finally:
                response.close()
            actual = hasher.hexdigest()
            if not expected.matches(actual):
                raise IntegrityError(
                    f"hash mismatch for {link.filename} from index {index.name}: "
                    f"published {expected}, served {expected.algorithm}:{actual}",
                    hint="the index served other bytes than it published; nothing was installed",
                )
            return self.cache.commit(temp, expected, link.filename)
        finally:
            if fd != -1:
                os.close(fd)
            temp.unlink(missing_ok=True)

    # -- HTTP -------------------------------------------------------------------------------
    def _may_authenticate(self, index: Index, url: str) -> bool:
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == index.origin:
            return True
        return host in index.file_hosts and scheme == "https"

    def _get(
        self,
        session: requests.Session,
        index: Index,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        what: str,
        same_origin_only: bool = False,
    ) -> requests.Response:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            request_headers = dict(headers or {})
            credential = None
            if self._may_authenticate(index, current):
                credential = self.credentials.for_index(index)
                if credential is not None:
                    request_headers["Authorization"] = credential.basic_header()
            try:
                self.requests_made += 1
                response = session.get(
                    current,
                    headers=request_headers,
                    stream=stream,
                    allow_redirects=False,
                    # HTTP(S)_PROXY / NO_PROXY from the environment, decided per URL.
                    proxies=requests.utils.get_environ_proxies(current, no_proxy=None),
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    verify=str(index.ca_bundle) if index.ca_bundle else True,
                )
            except requests.exceptions.SSLError:
                raise IndexError_(
                    f"index {index.name} ({index.redacted}): its TLS certificate is not trusted "
                    f"(while fetching {what})",
                    hint=f"set `ca-bundle` for [indexes.{index.name}] in the source map to the "
                    "CA certificate that signed it",
                ) from None
            except requests.RequestException as exc:
                raise IndexError_(
                    f"index {index.name} ({index.redacted}) unreachable while fetching {what}: "
                    f"{type(exc).__name__}",
                    hint="check the URL in the source map and your network; spip retried "
                    f"{self.settings.retries} times",
                ) from None
            if response.is_redirect:
                target = urljoin(current, response.headers.get("Location", ""))
                response.close()
                if origin_of(current)[0] == "https" and origin_of(target)[0] != "https":
                    raise IntegrityError(
                        f"index {index.name} redirected {what} from https to "
                        f"{RedactedUrl(target)}; refused"
                    )
                if (
                    same_origin_only
                    and origin_of(target) != index.origin
                    and origin_of(target)[1] not in index.file_hosts
                ):
                    # A project page must come from the index itself: an index that sends
                    # unknown names elsewhere would hand a private name to a public index.
                    raise IntegrityError(
                        f"index {index.name} ({index.redacted}) redirected the {what} to "
                        f"another origin ({RedactedUrl(target)}); refused",
                        hint="a project page must come from its assigned index; if that host "
                        "is the index's own, list it in the index's file-hosts",
                    )
                current = target
                continue
            if response.status_code in (401, 403):
                response.close()
                raise _auth_error(index, response.status_code, credential is not None, what)
            if response.status_code >= 400 and response.status_code != 404:
                response.close()
                raise IndexError_(
                    f"index {index.name} ({index.redacted}) answered HTTP "
                    f"{response.status_code} for {what}",
                    hint="the index is failing; spip retried server errors "
                    f"{self.settings.retries} times",
                )
            return response
        raise IndexError_(f"index {index.name} redirected too many times for {what}")


class _Interrupted(Exception):
    """A transfer broke mid-body (reset, short read): worth another try."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _quietly(function: Any, *args: Any) -> None:
    """Run a prefetch; its errors surface when the result is really asked for."""
    try:
        function(*args)
    except Exception:
        return


def _auth_error(index: Index, status: int, sent: bool, what: str) -> AuthError:
    user = index.username or "USERNAME"
    store = f"run `spip auth set {index.name}` or `keyring set {index.url} {user}`"
    if sent:
        return AuthError(
            f"index {index.name} ({index.redacted}) refused the credentials "
            f"(HTTP {status}) for {what}",
            hint=f"the stored password is wrong or lacks access; {store}",
        )
    return AuthError(
        f"index {index.name} ({index.redacted}) requires credentials (HTTP {status}) for {what}",
        hint=f"{store}, or set {index.env_prefix}_PASSWORD",
    )


def read_wheel_metadata(path: Path, filename: str) -> bytes:
    """The METADATA file of a wheel, checked against the wheel's file name."""
    from pipx_secure.model.simple_api import parse_filename

    dist = parse_filename(filename)
    try:
        with zipfile.ZipFile(path) as archive:
            candidates = [
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            for member in candidates:
                stem = member.split("/", 1)[0][: -len(".dist-info")]
                dist_name, _, _version = stem.rpartition("-")
                if canonicalize_name(dist_name) == dist.name:
                    data = archive.read(member)
                    break
            else:
                raise IntegrityError(
                    f"wheel {filename} has no .dist-info/METADATA for {dist.name}",
                    hint="the wheel is malformed or belongs to another project",
                )
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(f"wheel {filename} cannot be read: {exc}") from None
    check_metadata_identity(data, dist.name, str(dist.version), filename)
    return data


def check_metadata_identity(data: bytes, name: str, version: str, what: str) -> None:
    """Refuse metadata whose Name/Version differ from what the file name says."""
    from email.parser import BytesHeaderParser

    from packaging.version import InvalidVersion, Version

    headers = BytesHeaderParser().parse(io.BytesIO(data))
    meta_name = headers.get("Name", "")
    meta_version = headers.get("Version", "")
    try:
        same_version = Version(meta_version) == Version(version)
    except InvalidVersion:
        same_version = False
    if canonicalize_name(meta_name) != canonicalize_name(name) or not same_version:
        raise IntegrityError(
            f"{what}: metadata names {meta_name} {meta_version}, not {name} {version}",
            hint="the artifact's metadata disagrees with its file name; refused",
        )
