"""One error hierarchy for spip.

Every error carries data and renders a one-line message plus an optional hint.  Only the CLI
prints them; it maps each class to a documented, stable exit code (``exit_code``).  Messages
must never contain a secret: URLs are rendered through
:class:`pipx_secure.model.redact.RedactedUrl`.
"""

from __future__ import annotations


class SpipError(Exception):
    """Base class of every error spip reports to a user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The one-line message, with the hint appended when there is one."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class UsageError(SpipError):
    """Bad command line: unknown or refused option, missing argument."""

    exit_code = 2


class InputError(SpipError):
    """A file the user gave us is malformed or breaks policy (map, requirement file, lock)."""

    exit_code = 2

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None):
        super().__init__(f"{location}: {message}" if location else message, hint)
        self.location = location


class SourceMapError(InputError):
    """The source map is invalid (load-time check)."""


class RequirementFileError(InputError):
    """A requirement or constraint file is malformed or carries a refused option."""


class PolicyError(SpipError):
    """A request the source map does not allow (strict mode, direct URL not allowed...)."""

    exit_code = 3


class ResolutionError(SpipError):
    """No set of versions satisfies the requirements from the assigned indexes."""

    exit_code = 4


class IndexError_(SpipError):
    """An index could not be reached or answered with an error after retries."""

    exit_code = 5


class AuthError(IndexError_):
    """An index refused our credentials (401/403) or we had none to send."""

    exit_code = 6


class IntegrityError(SpipError):
    """An artifact or page failed verification: hash mismatch, hostile or inconsistent data."""

    exit_code = 7


class ForwardingError(IntegrityError):
    """An index sent a project page to another origin: it forwards names it does not have."""

    def __init__(self, message: str, hint: str | None = None, *, index: str = "") -> None:
        super().__init__(message, hint)
        self.index = index


class BuildError(SpipError):
    """Building an sdist (metadata or wheel) failed."""

    exit_code = 8


class InstallError(SpipError):
    """The pip subprocess failed."""

    exit_code = 9


class EnvironmentProbeError(SpipError):
    """The target interpreter could not be inspected."""

    exit_code = 10


EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "findings": 1,
    "usage or input error": 2,
    "policy refused": 3,
    "resolution impossible": 4,
    "index unreachable or failing": 5,
    "authentication refused": 6,
    "integrity check failed": 7,
    "build failed": 8,
    "pip install failed": 9,
    "target interpreter unusable": 10,
    "interrupted": 130,
}
