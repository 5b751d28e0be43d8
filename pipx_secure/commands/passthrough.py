"""``spip uninstall|list|freeze|show``: the target's pip, unchanged, with no network."""

from __future__ import annotations

from dataclasses import dataclass

from pipx_secure.commands.context import Services
from pipx_secure.install.pipargs import pip_command
from pipx_secure.install.process import REFUSING_PROXY, ChildKind

PASSTHROUGH = {
    "uninstall": "uninstall packages from the target environment",
    "list": "list installed packages",
    "freeze": "output installed packages in requirements format",
    "show": "show information about installed packages",
}


@dataclass(frozen=True)
class PassthroughSettings:
    """The pip command and its arguments, as given."""

    command: str
    pip_args: tuple[str, ...] = ()
    python: str | None = None


@dataclass(frozen=True)
class PassthroughResult:
    """pip's exit status and output."""

    returncode: int
    stdout: str
    stderr: str


def run(settings: PassthroughSettings, services: Services) -> PassthroughResult:
    """Run the command with spip's own pip aimed at the target, in the scrubbed environment."""
    from pipx_secure.install.target import choose_python

    python = choose_python(settings.python, services.environ)
    argv = [*pip_command(python), settings.command, *settings.pip_args]
    # These commands need no index: make sure pip could not reach one even if it tried.
    refusing = {"PIP_NO_INDEX": "1", "HTTP_PROXY": REFUSING_PROXY, "HTTPS_PROXY": REFUSING_PROXY}
    refusing.update(http_proxy=REFUSING_PROXY, https_proxy=REFUSING_PROXY, NO_PROXY="", no_proxy="")
    done = services.processes.run(argv, ChildKind.PIP, extra_env=refusing)
    return PassthroughResult(done.returncode, done.stdout, done.stderr)
