"""A quick no-op: a sealed memo that this very ``spip install`` had nothing to do.

A satisfied install reads the map, the requirement names, the interpreter's cached facts, every
installed distribution's metadata and spip's provenance, and then does nothing; most of its
time is importing the code that reads them.  After an install that leaves nothing to do (and
after a no-op), spip writes a memo in its cache: the command line, the working directory and
the variables that can change its meaning (``SPIP_*``, ``PIP_*``, ``VIRTUAL_ENV``, ``HOME``,
``XDG_CONFIG_*``) name it; it holds the identity (inode, size, mtime) of every file the answer
depended on: each place a map is searched for, pip's configuration files, the interpreter and
its ``pyvenv.cfg``, spip's provenance file, and every directory on the target's ``sys.path``
(installing, removing or replacing a distribution changes its directory).  The next identical
command checks those with ``stat`` alone and stops, importing almost nothing.  The memo is
sealed like every other cache entry, so whoever can write the cache cannot make spip skip an
install; a memo that fails its seal, or any change, means the command runs normally.

Only plain commands are memoized: names on the command line and options from an allow-list
(``-q``, ``--map``, ``--python``, ``--pre``, ``--no-deps``, binary preferences and options that
only shape output); requirement files, scripts, groups, local paths, URLs, locations elsewhere,
``--upgrade``, ``--report``, ``--require-hashes``, ``-v`` and every other option run normally.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipx_secure.commands.context import Services
    from pipx_secure.commands.install import InstallSettings

MEMO_VERSION = 1
NOTHING_TO_INSTALL = (
    "Nothing to install: every requirement is already satisfied "
    "(installed by spip from its assigned index)."
)
_VARIABLES = ("SPIP_", "PIP_", "VIRTUAL_ENV", "HOME", "XDG_CONFIG_")
#: The only options a memoized command may carry (an allow-list: any other option, such as a
#: file whose content may change, a location elsewhere, or a check that must run every time,
#: means the command runs normally).  Each holds for the same command line at any later time.
_PLAIN_FLAGS = frozenset(
    {
        "-q",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--no-color",
        "--pre",
        "--no-deps",
        "--no-dependencies",
        "--compile",
        "--no-compile",
        "--prefer-binary",
    }
)
#: Plain options whose value follows them (a path there is not a local requirement).
_WITH_VALUE = frozenset(
    {
        "--map",
        "--python",
        "--installer",
        "--only-binary",
        "--no-binary",
        "--progress-bar",
        "--root-user-action",
        "--exists-action",
        "--timeout",
        "--retries",
        "--keyring-provider",
    }
)


def eligible(argv: Sequence[str]) -> bool:
    """Whether ``spip install ARGV`` may be answered from a memo: names on the command line
    and plain options only."""
    value_next = False
    for arg in argv:
        if value_next:
            value_next = False
            continue
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if flag in _WITH_VALUE:
                value_next = "=" not in arg
            elif flag not in _PLAIN_FLAGS and not (arg[:2] == "-q" and set(arg[1:]) == {"q"}):
                return False
            continue
        if "/" in arg or "@" in arg or arg.startswith(".") or arg.endswith((".whl", ".zip")):
            return False  # a local path or a URL: built, not memoized
    return not value_next


def memo_key(argv: Sequence[str], cwd: Path, environ: Mapping[str, str]) -> str:
    """What names a memo: the command, where it ran, and the variables that change it."""
    variables = sorted(
        (k, v) for k, v in environ.items() if k.startswith(_VARIABLES) and k != "SPIP_TIMINGS"
    )
    text = json.dumps([MEMO_VERSION, list(argv), str(cwd), variables])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def signature(path: str) -> str:
    """A file's or directory's identity (``-`` when it does not exist)."""
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def _cache_root(environ: Mapping[str, str]) -> Path:
    """:func:`pipx_secure.index.cache.default_cache_dir`, without importing the cache."""
    explicit = environ.get("SPIP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("spip", appauthor=False))


def _memo_path(cache_root: Path, key: str) -> Path:
    return cache_root / "noop" / f"{key}.json"


def quick_noop(argv: Sequence[str], environ: Mapping[str, str], cwd: Path) -> bool:
    """Whether a sealed memo says ``spip install ARGV`` has nothing to do, and nothing it
    depends on changed since (False: run the command normally)."""
    if not eligible(argv):
        return False
    from pipx_secure.errors import SpipError
    from pipx_secure.index.seal import Sealer, default_key_file, refuse_shared

    try:
        root = _cache_root(environ)
        refuse_shared(root, "cache directory")
        key = memo_key(argv, cwd, environ)
        sealed = _memo_path(root, key).read_bytes()
        data = Sealer(default_key_file(environ)).open_bytes("noop", key, sealed)
        if data is None:
            return False
        files = json.loads(data)["files"]
        return bool(files) and all(signature(str(p)) == str(s) for p, s in files)
    except (OSError, SpipError, ValueError, KeyError, TypeError):
        return False


def depends_on(settings: InstallSettings, services: Services) -> list[Path]:
    """Every file and directory whose change could make the same command do something."""
    from pipx_secure.config.mapfile import search_source_map
    from pipx_secure.config.pipconfig import config_files
    from pipx_secure.install.target import choose_python, interpreter_facts

    paths: list[Path] = []
    if settings.map_path is not None:
        paths.append(services.cwd / settings.map_path)
    else:
        for directory in search_source_map(services.cwd.resolve()).looked_in:
            paths += [directory / "spip.toml", directory / "pyproject.toml"]
    paths += config_files(services.environ)
    python = choose_python(settings.python, services.environ)
    paths += [python, python.resolve(), python.parent.parent / "pyvenv.cfg"]
    facts = interpreter_facts(python, services.cache, services.processes)
    paths.append(facts.prefix / "spip-provenance.json")
    paths += [Path(entry or ".") for entry in facts.sys_path]
    return paths


def remember(argv: Sequence[str], settings: InstallSettings, services: Services) -> None:
    """Write the memo for ``spip install ARGV`` (call it when it has nothing to do)."""
    from pipx_secure.fs import atomic_write

    if not eligible(argv):
        return
    key = memo_key(argv, services.cwd, services.environ)
    paths = dict.fromkeys(str(p) for p in depends_on(settings, services))
    data = json.dumps({"files": [[p, signature(p)] for p in paths]}).encode()
    sealed = services.cache.sealer.seal_bytes("noop", key, data)
    with contextlib.suppress(OSError):
        atomic_write(_memo_path(services.cache.root, key), sealed)
