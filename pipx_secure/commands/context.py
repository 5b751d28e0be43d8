"""What every command uses of the world, in one object the CLI builds and tests fake.

:class:`Services` holds the environment, the working directory, the cache, the credential
store, the process door and a :class:`Reporter` (progress and notes; only the CLI renders
them).  Transports are made through a factory so unit tests can serve pages from memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipx_secure.config.credentials import CredentialStore
from pipx_secure.index.cache import ArtifactCache, default_cache_dir
from pipx_secure.index.seal import Sealer, default_key_file
from pipx_secure.install.process import OutputSink, Processes
from pipx_secure.model.environment import TargetEnvironment

if TYPE_CHECKING:
    from pipx_secure.index.transport import Transport
    from pipx_secure.install.workspace import BuildOptions, Workspace
    from pipx_secure.model.sourcemap import SourceMap


class Reporter(Protocol):
    """Where commands send progress and notes (rendered by the CLI, or ignored)."""

    def note(self, text: str) -> None:
        """A one-line note for the user (stderr)."""

    def status(self, text: str) -> AbstractContextManager[None]:
        """A long step in progress (a spinner on a terminal)."""

    def detail(self, text: str) -> None:
        """A line shown only with ``-v``."""

    def step(self, text: str) -> None:
        """What the current status is doing now (a package pinned, a build, pip running)."""

    @property
    def tracing(self) -> bool:
        """Whether request lines are wanted (``-vv``)."""

    def http_decision(self, text: str) -> None:
        """A request and what spip decided about it (``-vv``)."""

    def download_started(self, name: str, total: int | None) -> None:
        """A download began."""

    def download_advanced(self, name: str, size: int) -> None:
        """Bytes of a download arrived."""

    def download_finished(self, name: str) -> None:
        """A download ended."""


class SilentReporter:
    """A reporter that shows nothing (tests, ``-q``)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        """Keep the note (tests read them)."""
        self.notes.append(text)

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        """Nothing to show."""
        yield

    def detail(self, text: str) -> None:
        """Keep the detail (tests read them)."""
        self.notes.append(text)

    def step(self, text: str) -> None:
        """Nothing to show."""

    tracing = False

    def http_decision(self, text: str) -> None:
        """Nothing to show."""

    def download_started(self, name: str, total: int | None) -> None:
        """Nothing to show."""

    def download_advanced(self, name: str, size: int) -> None:
        """Nothing to show."""

    def download_finished(self, name: str) -> None:
        """Nothing to show."""


TransportFactory = Callable[["CredentialStore | None", ArtifactCache, bool], "Transport"]


@dataclass(frozen=True)
class NetworkOptions:
    """pip's network, cache and credential options, mapped onto spip's own settings."""

    timeout: float | None = None
    retries: int | None = None
    proxy: str | None = None
    no_proxy_env: bool = False
    cert: Path | None = None
    client_cert: Path | None = None
    keyring: bool = True
    cache_dir: Path | None = None
    no_cache: bool = False


def _http_transport(
    environ: Mapping[str, str], network: NetworkOptions, reporter: Reporter
) -> TransportFactory:
    def make(
        credentials: CredentialStore | None, cache: ArtifactCache, http_cache: bool
    ) -> Transport:
        from dataclasses import replace

        from pipx_secure.index.http import HttpSettings
        from pipx_secure.index.tls import TrustSettings
        from pipx_secure.index.transport import HttpTransport  # the HTTP stack, when used

        settings = HttpSettings.from_environ(environ)
        settings = replace(
            settings,
            connect_timeout=network.timeout or settings.connect_timeout,
            read_timeout=network.timeout or settings.read_timeout,
            retries=settings.retries if network.retries is None else network.retries,
            proxy=network.proxy,
            no_proxy_env=network.no_proxy_env,
        )
        trust = TrustSettings.from_environ(environ)
        trust = replace(
            trust,
            extra_ca=(*trust.extra_ca, *([network.cert] if network.cert else [])),
            default_client_cert=network.client_cert,
        )
        return HttpTransport(
            credentials,
            cache,
            settings,
            http_cache=http_cache,
            trust_settings=trust,
            progress=reporter,
        )

    return make


def _no_transport(
    credentials: CredentialStore | None, cache: ArtifactCache, http_cache: bool
) -> Transport:
    raise RuntimeError("Services without a transport factory")  # pragma: no cover


@dataclass
class Services:
    """The world as commands see it."""

    environ: Mapping[str, str]
    cwd: Path
    cache: ArtifactCache
    credentials: CredentialStore
    processes: Processes
    reporter: Reporter = field(default_factory=SilentReporter)
    transport_factory: TransportFactory = _no_transport
    cleanup: list[Path] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        reporter: Reporter | None = None,
        echo: OutputSink | None = None,
        network: NetworkOptions | None = None,
    ) -> Services:
        """The real services for this process (``echo`` streams children's output, ``-v``)."""
        import tempfile

        env = dict(os.environ if environ is None else environ)
        network = network or NetworkOptions()
        cleanup = []
        if network.no_cache:
            cache_dir = Path(tempfile.mkdtemp(prefix="spip-cache-"))
            cleanup.append(cache_dir)
        else:
            cache_dir = network.cache_dir or default_cache_dir(env)
        credentials = CredentialStore(env, use_keyring=network.keyring)
        reporter = reporter or SilentReporter()
        cache = ArtifactCache(cache_dir, Sealer(default_key_file(env)), warn=reporter.note)
        cache.check_permissions()
        return cls(
            environ=env,
            cwd=Path.cwd(),
            cache=cache,
            credentials=credentials,
            processes=Processes(env, credentials.secrets, echo=echo),
            reporter=reporter,
            transport_factory=_http_transport(env, network, reporter),
            cleanup=cleanup,
        )

    def close(self) -> None:
        """Remove what this run made for itself only (a throwaway cache)."""
        import shutil

        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def workspace(
        self,
        source_map: SourceMap,
        target: TargetEnvironment,
        transport: Transport,
        build: BuildOptions | None = None,
    ) -> Workspace:
        """A workspace for ``target`` that tells this run's reporter what it is doing."""
        from pipx_secure.install.workspace import Workspace

        workspace = Workspace(source_map, target, transport, self.cache, self.processes, build)
        workspace.step = self.reporter.step
        return workspace

    def transport(self, *, http_cache: bool = True) -> Transport:
        """A transport that sends each index its own credentials."""
        return self.transport_factory(self.credentials, self.cache, http_cache)

    def anonymous_transport(self) -> Transport:
        """A transport that sends no credentials anywhere."""
        return self.transport_factory(None, self.cache, False)

    def target(self, python: str | None) -> TargetEnvironment:
        """The target environment (``--python``, else the active venv, else spip's own)."""
        from pipx_secure.install.target import choose_python, probe

        return probe(choose_python(python, self.environ), self.cache, self.processes)

    def load_map(self, path: Path | None) -> SourceMap:
        """The source map (``--map``, else found upward from the working directory)."""
        from pipx_secure.config.mapfile import load_source_map, search_source_map

        if path is None:
            search = search_source_map(self.cwd.resolve())
            if search.found is None:
                looked = ", ".join(str(d) for d in search.looked_in)
                self.reporter.detail(
                    "no source map found (looked for spip.toml and [tool.spip] in "
                    f"pyproject.toml in: {looked})"
                )
        source_map = load_source_map(path, cwd=self.cwd, environ=self.environ)
        self.reporter.detail(f"source map: {source_map.origin}")
        default = source_map.default_index
        if default is not None:
            self.reporter.detail(
                f"default index: {default.name} ({default.redacted}, from {default.location})"
            )
        for note in source_map.notes:
            self.reporter.note(f"note: {note}")
        return source_map
