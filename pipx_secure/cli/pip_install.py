"""Every option of ``pip install``, classified: what spip does with each.

One table drives ``spip install``'s parser, its refusals, and the README's option table
(``python -m pipx_secure.cli.pip_install`` prints it).  A test walks pip's own option list
(read from pip at test time) so that a new pip option cannot slip through unclassified.
Classes: *supported* (pip's meaning), *spip setting* (mapped onto spip's own: its network,
cache and credential settings), *accepted* (only shapes pip's own output or behaviour spip
already has), *refused* (by name, with the reason and what replaces it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Support(Enum):
    """What spip does with a pip option."""

    SUPPORTED = "supported"
    MAPPED = "spip setting"
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True)
class PipOption:
    """One option of ``pip install``: its spellings, its class, and how spip parses it."""

    names: tuple[str, ...]
    support: Support
    note: str
    arg: dict[str, Any] = field(default_factory=lambda: {"action": "store_true"})

    @property
    def long(self) -> str:
        """The first long spelling."""
        return next(n for n in self.names if n.startswith("--"))


S, M, A, R = Support.SUPPORTED, Support.MAPPED, Support.ACCEPTED, Support.REFUSED
_ROUTE = "route names in the source map (spip.toml [packages]) instead"


def _o(names: str, support: Support, note: str, **arg: Any) -> PipOption:
    return PipOption(tuple(names.split()), support, note, arg or {"action": "store_true"})


def _value(**extra: Any) -> dict[str, Any]:
    return {"action": "store", **extra}


def _many(**extra: Any) -> dict[str, Any]:
    return {"action": "append", "default": [], **extra}


PIP_INSTALL: tuple[PipOption, ...] = (
    _o(
        "-r --requirement",
        S,
        "nested files, `${VAR}`, `--hash`",
        **_many(type=Path, metavar="FILE"),
    ),
    _o("-c --constraint", S, "narrows versions", **_many(type=Path, metavar="FILE")),
    _o(
        "--build-constraint",
        S,
        "applied when spip resolves build dependencies",
        **_many(type=Path, metavar="FILE"),
    ),
    _o(
        "--requirements-from-script",
        S,
        "PEP 723 inline script metadata",
        **_many(type=Path, metavar="SCRIPT"),
    ),
    _o("--no-deps --no-dependencies", S, "pip's meaning"),
    _o("--only-deps --only-dependencies", S, "installs what the requirements need, not them"),
    _o("-e --editable", S, "built offline (PEP 660), dependencies routed", **_many(metavar="PATH")),
    _o("--dry-run", S, "resolves and shows the plan"),
    _o("-t --target", S, "judged against what is installed there", **_value(metavar="DIR")),
    _o(
        "--platform", S, "with --target: a described environment, as in pip", **_many(metavar="TAG")
    ),
    _o("--python-version", S, "with --target", **_value(metavar="X.Y")),
    _o("--implementation", S, "with --target (cp)", **_value(metavar="IMPL")),
    _o("--abi", S, "with --target", **_many(metavar="ABI")),
    _o("--user", S, "judged against the user site", dest="user", action="store_true", default=None),
    _o("--no-user", S, "pip's default", dest="user", action="store_false", default=None),
    _o("--root", S, "judged against what is installed there", **_value(metavar="DIR")),
    _o("--prefix", S, "judged against what is installed there", **_value(metavar="DIR")),
    _o(
        "--src --source --source-dir --source-directory",
        S,
        "where git checkouts are kept",
        **_value(metavar="DIR"),
    ),
    _o("-U --upgrade", S, "pip's meaning"),
    _o(
        "--upgrade-strategy",
        S,
        "`only-if-needed`, `eager`",
        **_value(choices=("only-if-needed", "eager"), default="only-if-needed"),
    ),
    _o("--force-reinstall", S, "pip's meaning"),
    _o("-I --ignore-installed", S, "installed versions are neither kept nor preferred"),
    _o("--ignore-requires-python", S, "files' Requires-Python is not checked"),
    _o(
        "--no-build-isolation",
        R,
        "builds would use the target's unverified packages: spip "
        "builds in a fresh environment with build dependencies routed through the map",
    ),
    _o("--use-pep517", A, "spip always builds through PEP 517"),
    _o("--check-build-dependencies", A, "spip resolves and installs every build dependency"),
    _o("--break-system-packages", S, "passed to pip"),
    _o("-C --config-settings", S, "passed to build backends", **_many(metavar="KEY=VALUE")),
    _o("--compile", S, "the default", dest="compile", action="store_true", default=True),
    _o("--no-compile", S, "pip's meaning", dest="compile", action="store_false", default=True),
    _o("--no-warn-script-location", A, "passed to pip"),
    _o("--no-warn-conflicts", A, "passed to pip"),
    _o("--require-hashes", S, "your hashes must match the file the assigned index serves"),
    _o("--no-require-hashes", S, "pip's meaning"),
    _o(
        "--progress-bar",
        A,
        "`off` turns spip's progress display off",
        **_value(choices=("on", "off", "raw"), default="on"),
    ),
    _o("--root-user-action", A, "passed to pip", **_value(choices=("warn", "ignore"))),
    _o(
        "--report",
        S,
        "pip's format plus each item's `index` and `index_name`; written whenever asked",
        **_value(type=Path, metavar="FILE"),
    ),
    _o("--group", S, "PEP 735 dependency groups of pyproject.toml", **_many(metavar="[PATH:]NAME")),
    _o("--no-clean", A, "spip removes only its own temporary directories"),
    _o("--pre", S, "pip's meaning"),
    _o(
        "--all-releases",
        S,
        "pre-releases allowed for these names (`:all:`)",
        **_many(metavar="NAMES"),
    ),
    _o(
        "--only-final", S, "final releases only for these names (`:all:`)", **_many(metavar="NAMES")
    ),
    _o("--no-binary", S, "`:all:`, `:none:`, names", **_many(metavar="FORMAT")),
    _o("--only-binary", S, "`:all:`, `:none:`, names", **_many(metavar="FORMAT")),
    _o("--prefer-binary", S, "pip's meaning"),
    _o(
        "-i --index-url --pypi-url",
        R,
        f"the source map decides each name's index: {_ROUTE}; set `default` there",
        action="store",
        nargs="?",
    ),
    _o(
        "--extra-index-url",
        R,
        "taking the highest version from any index is dependency "
        f"confusion: declare the index under [indexes] and {_ROUTE}",
        action="store",
        nargs="?",
    ),
    _o("--no-index", R, "spip always installs offline from verified artifacts already"),
    _o(
        "-f --find-links",
        R,
        "link pages and directories bypass the source map: serve the files "
        f"from an index in the map and {_ROUTE}",
        action="store",
        nargs="?",
    ),
    _o(
        "--refresh-package",
        A,
        "spip revalidates every project page with its index",
        **_many(metavar="NAME"),
    ),
    _o(
        "--uploaded-prior-to",
        S,
        "files uploaded later are no candidates (PEP 700 upload-time); "
        "per index: `exclude-newer` in the map",
        **_value(metavar="TIME"),
    ),
    _o("-h --help", S, "spip's help", action="help"),
    _o("--debug", A, "internal errors show a traceback (as SPIP_DEBUG=1)"),
    _o("--isolated", A, "pip always runs isolated under spip"),
    _o("--require-virtualenv --require-venv", S, "the target must be a virtual environment"),
    _o("--python", S, "an interpreter or a virtual environment", **_value(metavar="PYTHON")),
    _o(
        "-v --verbose",
        S,
        "`-v` streams pip's and build backends' output, `-vv` adds spip's HTTP decisions",
        action="count",
        default=0,
    ),
    _o("-q --quiet", S, "only results and errors", action="count", default=0),
    _o("--log --log-file --local-log", S, "pip's log goes to FILE", **_value(metavar="FILE")),
    _o("--no-input", S, "spip never prompts"),
    _o(
        "--keyring-provider",
        M,
        "`disabled`: spip does not ask keyring; otherwise spip's own look-ups",
        **_value(choices=("auto", "disabled", "import", "subprocess")),
    ),
    _o(
        "--proxy",
        M,
        "the proxy for every request, instead of the environment's",
        **_value(metavar="URL"),
    ),
    _o("--no-proxy-env", M, "HTTP(S)_PROXY and NO_PROXY are ignored"),
    _o("--retries", M, "SPIP_RETRIES", **_value(type=int, metavar="N")),
    _o("--timeout --default-timeout", M, "SPIP_TIMEOUT", **_value(type=float, metavar="SECONDS")),
    _o("--exists-action", A, "spip never asks about existing checkouts", **_many(metavar="ACTION")),
    _o(
        "--trusted-host",
        R,
        "it turns TLS checks off: give the index a `ca-bundle` in the map",
        action="store",
        nargs="?",
    ),
    _o(
        "--cert",
        M,
        "a CA bundle trusted for indexes without their own `ca-bundle`",
        **_value(metavar="PATH"),
    ),
    _o(
        "--client-cert",
        M,
        "a client certificate for indexes without their own `client-cert`",
        **_value(metavar="PATH"),
    ),
    _o("--cache-dir", M, "spip's cache", **_value(metavar="DIR")),
    _o("--no-cache-dir", M, "a throwaway cache for this run"),
    _o("--disable-pip-version-check", A, "spip never checks"),
    _o("--no-color", A, "as NO_COLOR"),
    _o("--no-python-version-warning", A, "pip's own warnings only"),
    _o(
        "--use-feature",
        R,
        "pip's experimental features do not apply: spip resolves itself and runs pip offline",
        action="store",
        nargs="?",
    ),
    _o(
        "--use-deprecated",
        R,
        "pip's deprecated behaviours (such as `legacy-certs`) would undo spip's checks",
        action="store",
        nargs="?",
    ),
    _o(
        "--resume-retries",
        M,
        "spip retries a broken transfer (SPIP_RETRIES)",
        **_value(type=int, metavar="N"),
    ),
)

BY_NAME = {name: option for option in PIP_INSTALL for name in option.names}


def markdown_table() -> str:
    """The README's table of pip install's options, from :data:`PIP_INSTALL`."""
    lines = ["| option | under spip | |", "| --- | --- | --- |"]
    for option in PIP_INSTALL:
        spelled = ", ".join(f"`{n}`" for n in option.names)
        lines.append(f"| {spelled} | {option.support.value} | {option.note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the README table
    sys.stdout.write(markdown_table())
