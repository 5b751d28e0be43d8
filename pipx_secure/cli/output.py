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

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        """A spinner on a terminal; nothing in a pipe, with -q, or under TERM=dumb."""
        if (
            self.quiet
            or self.plain
            or not sys.stderr.isatty()
            or self.environ.get("TERM") == "dumb"
        ):
            yield
            return
        from rich.console import Console

        console = Console(stderr=True, no_color=bool(self.environ.get("NO_COLOR")) or None)
        with console.status(self.scrub(text)):
            yield

    def detail(self, text: str) -> None:
        """``spip: <text>`` on stderr, with ``-v`` only."""
        if self.verbose:
            self.err(f"spip: {text}")

    def child_line(self, line: str) -> None:
        """A line of a child process's output (``-v``), on stderr."""
        self.err(line)
