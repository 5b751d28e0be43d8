"""The only place spip writes to the terminal: lines, notes, a spinner, and a secret scrubber.

Everything printed passes :meth:`Output.scrub`: URL passwords are masked, and so is every
secret spip looked up (and its base64 form), as a last line of defence.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

from pipx_secure.model.redact import redact_text


class Output:
    """stdout/stderr for one run of spip, scrubbed of secrets."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        quiet: int = 0,
        secrets: Callable[[], tuple[str, ...]] = tuple,
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.quiet = quiet
        self.verbose = 0
        self.plain = False  # --no-color or --progress-bar off: no spinner, no colour
        self.cleanup: list[Callable[[], None]] = []
        self.secrets = secrets
        self.extra_secrets: list[str] = []
        self._progress: _Board | None = None
        self._downloads: dict[str, int] = {}
        self._statuses: list[tuple[int, str]] = []

    def scrub(self, text: str) -> str:
        """``text`` without URL passwords or any secret spip looked up."""
        text = redact_text(text)
        for secret in (*self.secrets(), *self.extra_secrets):
            if secret:
                text = text.replace(secret, "****")
                text = text.replace(base64.b64encode(secret.encode()).decode(), "****")
        return text

    def out(self, text: str = "") -> None:
        """A line of results (stdout)."""
        sys.stdout.write(self.scrub(text) + "\n")
        sys.stdout.flush()

    def err(self, text: str) -> None:
        """A line for the user (stderr)."""
        sys.stderr.write(self.scrub(text) + "\n")
        sys.stderr.flush()

    # -- the Reporter protocol --------------------------------------------------------------
    def note(self, text: str) -> None:
        """``spip: <text>`` on stderr."""
        self.err(f"spip: {text}")

    def _live(self) -> bool:
        """Whether spinners and progress bars are shown: a terminal, not -q, not plain."""
        return not (
            self.quiet
            or self.plain
            or not sys.stderr.isatty()
            or self.environ.get("TERM") == "dumb"
        )

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A spinner on a terminal; nothing in a pipe, with -q, or under TERM=dumb."""
        if not self._live():
            yield
            return
        board = self._board()
        task = board.add(self.scrub(text), None)
        self._statuses.append((task, self.scrub(text)))
        try:
            yield
        finally:
            self._statuses.pop()
            board.remove(task)

    def step(self, text: str) -> None:
        """Show ``text`` beside the innermost status (the package pinned, the build running)."""
        if self._statuses and self._progress is not None:
            task, title = self._statuses[-1]
            self._progress.describe(task, f"{title} · {self.scrub(text)}")

    def download_started(self, name: str, total: int | None) -> None:
        """A bar for one download (bytes, rate) on a terminal."""
        if self._live():
            self._downloads[name] = self._board().add(name, total, download=True)

    def download_advanced(self, name: str, size: int) -> None:
        """Move the bar of ``name``."""
        task = self._downloads.get(name)
        if task is not None and self._progress is not None:
            self._progress.advance(task, size)

    def download_finished(self, name: str) -> None:
        """Take the bar of ``name`` away."""
        task = self._downloads.pop(name, None)
        if task is not None and self._progress is not None:
            self._progress.remove(task)

    def _board(self) -> _Board:
        if self._progress is None:
            self._progress = _Board(self.environ)
        return self._progress

    def stop_display(self) -> None:
        """End any live display (before an error or the final lines are printed)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._downloads.clear()

    def detail(self, text: str) -> None:
        """``spip: <text>`` on stderr, with ``-v`` only."""
        if self.verbose:
            self.err(f"spip: {text}")

    @property
    def tracing(self) -> bool:
        """``-vv``: one line per HTTP request."""
        return self.verbose >= 2

    def http_decision(self, text: str) -> None:
        """``spip: http: <text>`` on stderr, with ``-vv`` only."""
        if self.verbose >= 2:
            self.err(f"spip: http: {text}")

    def child_line(self, line: str) -> None:
        """A line of a child process's output (``-v``), on stderr."""
        self.err(line)


class _Board:
    """One live area on stderr: spinners for what spip is doing, a bar per download.

    Download callbacks arrive from worker threads; rich's progress display takes its own lock.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            Task,
            TextColumn,
            TransferSpeedColumn,
        )
        from rich.table import Column
        from rich.text import Text

        class _ForDownloads(ProgressColumn):
            """A column shown on download rows only (a status row is a spinner and text)."""

            def __init__(self, column: ProgressColumn) -> None:
                super().__init__()
                self.column = column

            def render(self, task: Task) -> RenderableType:
                return self.column(task) if task.fields.get("download") else Text("")

        console = Console(stderr=True, no_color=bool(environ.get("NO_COLOR")) or None)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn(
                "{task.description}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            _ForDownloads(BarColumn(bar_width=24)),
            _ForDownloads(DownloadColumn()),
            _ForDownloads(TransferSpeedColumn()),
            console=console,
            transient=True,
            expand=True,
        )
        self.running = False

    def add(self, description: str, total: int | None, *, download: bool = False) -> int:
        if not self.running:
            self.progress.start()
            self.running = True
        return int(self.progress.add_task(description, total=total, download=download))

    def advance(self, task: int, size: int) -> None:
        from rich.progress import TaskID

        self.progress.advance(TaskID(task), size)

    def describe(self, task: int, description: str) -> None:
        from rich.progress import TaskID

        self.progress.update(TaskID(task), description=description, refresh=True)

    def remove(self, task: int) -> None:
        from rich.progress import TaskID

        with contextlib.suppress(KeyError):
            self.progress.remove_task(TaskID(task))
        if not self.progress.tasks:
            self.stop()

    def stop(self) -> None:
        if self.running:
            self.progress.stop()
            self.running = False
