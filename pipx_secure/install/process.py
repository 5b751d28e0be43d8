"""The one door through which spip starts processes.

Every child — pip, uv, git, ``venv``, the interpreter probe, the byte-compiler, build backends —
is started by :meth:`Processes.run` with an environment made by one policy,
:func:`child_env`: nothing of the user's pip, uv, Python or spip configuration, no variable
whose value contains a credential spip looked up, and pip pointed at no configuration file.
With an ``echo`` sink (``-v``) the child's output is streamed line by line as it comes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

#: Variables no child inherits: the user's pip/uv/Python/spip settings and active environments.
DROPPED_PREFIXES = ("PIP_", "PYTHON", "SPIP_", "VIRTUAL_ENV", "CONDA_PREFIX", "UV_")
#: What a build backend never sees: where credentials live, and the network's way out.
BUILD_DROPPED = (
    "HOME",
    "NETRC",
    "KEYRING_",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "SSH_AUTH_SOCK",
    "GIT_ASKPASS",
    "SSL_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_CREDENTIAL_WORDS = ("TOKEN", "PASSWORD", "PASSWD", "SECRET", "CREDENTIAL", "API_KEY", "APIKEY")
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy")
#: Where a build backend's proxy variables point: the discard port, which refuses.
REFUSING_PROXY = "http://127.0.0.1:9"

OutputSink = Callable[[str], None]


class ChildKind(Enum):
    """What a child process is; the environment policy varies a little per kind."""

    PIP = "pip"
    UV = "uv"
    GIT = "git"
    VENV = "venv"
    PROBE = "probe"
    COMPILE = "compile"
    BUILD = "build"


@dataclass(frozen=True)
class Completed:
    """A finished child: its exit status and what it wrote."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """Whether the child exited with status 0."""
        return self.returncode == 0

    def last_line(self, default: str = "") -> str:
        """The last non-empty line of stderr (else stdout): what a one-line error shows."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return default or f"exit status {self.returncode}"


def child_env(
    kind: ChildKind,
    environ: Mapping[str, str],
    secrets: Sequence[str] = (),
    *,
    user_site: bool = False,
) -> dict[str, str]:
    """The environment of a child of ``kind`` (pure): the one policy for every child.

    ``user_site`` keeps the user site-packages enabled (``--user`` installs need it).
    """
    env = {
        key: value
        for key, value in environ.items()
        if not key.upper().startswith(DROPPED_PREFIXES)
        and not any(secret and secret in value for secret in secrets)
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    if user_site:  # a --user install: the user's choice of user base is kept
        if environ.get("PYTHONUSERBASE"):
            env["PYTHONUSERBASE"] = environ["PYTHONUSERBASE"]
    else:
        env["PYTHONNOUSERSITE"] = "1"
    if kind is ChildKind.BUILD:
        env = _build_env(env)
    elif kind is ChildKind.GIT:
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    return env


def _build_env(env: dict[str, str]) -> dict[str, str]:
    """A build backend's environment: no credentials, no home, proxies that refuse."""
    kept = {
        key: value
        for key, value in env.items()
        if not key.upper().startswith(BUILD_DROPPED)
        and not any(word in key.upper() for word in _CREDENTIAL_WORDS)
        and key.lower() not in (*_PROXY_VARIABLES, "no_proxy")
    }
    for name in _PROXY_VARIABLES:
        kept[name] = kept[name.upper()] = REFUSING_PROXY
    kept["NO_PROXY"] = kept["no_proxy"] = ""
    kept["PIP_NO_INDEX"] = "1"
    return kept


def isolation_prefix() -> tuple[list[str], str]:
    """argv prefix that runs a child without network access, and its description.

    A Linux network namespace through a user namespace (``unshare``) when the kernel allows
    it; otherwise nothing (the environment's proxies still point at a refusing address).
    """
    global _ISOLATION
    if _ISOLATION is None:
        unshare = shutil.which("unshare") if sys.platform.startswith("linux") else None
        works = False
        if unshare is not None:
            try:
                probe = subprocess.run(
                    [unshare, "--user", "--map-root-user", "--net", "true"],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                works = probe.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                works = False
        if unshare is not None and works:
            _ISOLATION = (
                [unshare, "--user", "--map-root-user", "--net", "--"],
                "no network (a new network namespace)",
            )
        else:
            _ISOLATION = ([], "proxies pointed at a refusing address (no network namespace here)")
    return _ISOLATION


_ISOLATION: tuple[list[str], str] | None = None


#: Children whose output ``-v`` streams (the others answer spip, not the user).
_STREAMED = frozenset({ChildKind.PIP, ChildKind.UV, ChildKind.BUILD, ChildKind.GIT, ChildKind.VENV})


class Processes:
    """Starts children with the one environment policy; the only user of ``subprocess``."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        secrets: Callable[[], Sequence[str]] = tuple,
        *,
        echo: OutputSink | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.secrets = secrets
        self.echo = echo
        self._told = False

    def env_for(
        self, kind: ChildKind, extra: Mapping[str, str] | None = None, *, user_site: bool = False
    ) -> dict[str, str]:
        """The environment a child of ``kind`` gets, plus ``extra`` (set by spip itself)."""
        env = child_env(kind, self.environ, self.secrets(), user_site=user_site)
        env.update(extra or {})
        return env

    def run(
        self,
        argv: Sequence[str],
        kind: ChildKind,
        *,
        cwd: Path | str | None = None,
        input: str | None = None,
        timeout: float | None = None,
        extra_env: Mapping[str, str] | None = None,
        log: Path | None = None,
        user_site: bool = False,
    ) -> Completed:
        """Run ``argv`` to completion; never raises for a failing or missing program."""
        env = self.env_for(kind, extra_env, user_site=user_site)
        if kind is ChildKind.BUILD:
            prefix, description = isolation_prefix()
            if self.echo is not None and not self._told:
                self._told = True
                self.echo(f"spip: build backends run with {description}")
            argv = [*prefix, *argv]
        return self._spawn(tuple(str(a) for a in argv), kind, env, cwd, input, timeout, log)

    def _spawn(
        self,
        argv: tuple[str, ...],
        kind: ChildKind,
        env: dict[str, str],
        cwd: Path | str | None,
        input: str | None,
        timeout: float | None,
        log: Path | None,
    ) -> Completed:
        if log is not None or (self.echo is not None and kind in _STREAMED):
            return self._stream(argv, env, cwd, input, log)
        try:
            done = subprocess.run(
                list(argv),
                env=env,
                cwd=str(cwd) if cwd else None,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Completed(argv, -9, "", f"timed out after {timeout} s")
        except OSError as exc:
            return Completed(argv, 127, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
        return Completed(argv, done.returncode, done.stdout, done.stderr)

    def _stream(
        self,
        argv: tuple[str, ...],
        env: dict[str, str],
        cwd: Path | str | None,
        input: str | None,
        log: Path | None,
    ) -> Completed:
        """Run with stdout and stderr merged, each line echoed and/or logged as it comes."""
        lines: deque[str] = deque(maxlen=2000)
        try:
            process = subprocess.Popen(
                list(argv),
                env=env,
                cwd=str(cwd) if cwd else None,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            return Completed(argv, 127, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
        handle = log.open("a", encoding="utf-8") if log is not None else None
        try:
            if input is not None and process.stdin is not None:
                process.stdin.write(input)
                process.stdin.close()
            for line in process.stdout or ():
                lines.append(line)
                if handle is not None:
                    handle.write(line)
                if self.echo is not None:
                    self.echo(line.rstrip("\n"))
            returncode = process.wait()
        finally:
            if handle is not None:
                handle.close()
            if process.poll() is None:
                process.kill()
                process.wait()
        text = "".join(lines)
        return Completed(argv, returncode, text, text)
