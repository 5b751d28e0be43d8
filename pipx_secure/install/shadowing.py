"""Module shadowing across indexes: refused before anything is installed.

pip installs a distribution's files over whatever is there.  A public distribution with an
innocent name that ships ``acme_core/__init__.py`` would replace the private ``acme-core``'s
code without a word.  Before the installer runs, spip maps every file each new wheel will write
(relative to the site directory) and refuses when two distributions from *different* indexes
would write the same file — among the new wheels, or between a new wheel and a distribution
already installed.  Files shared by distributions of one index (``backports/__init__.py``) stay
allowed, as pip allows them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence

from packaging.utils import NormalizedName

from pipx_secure.errors import IntegrityError
from pipx_secure.install.archives import check_wheel_paths
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.records import MalformedRecord, parse_record

Owner = tuple[NormalizedName, str]  # (distribution, index name)


def _refuse(path: str, new: Owner, old: Owner, installed: bool) -> IntegrityError:
    already = "installed " if installed else ""
    return IntegrityError(
        f"{new[0]} (from index {new[1]}) would overwrite {path} of the {already}distribution "
        f"{old[0]} (from index {old[1]}): module shadowing across indexes; nothing was installed",
        hint=f"a distribution from one index may not replace another index's files; if {new[0]} "
        f"really replaces {old[0]}, pass --allow-overwrite {new[0]} (or list it under "
        "[install] allow-overwrite in the map)",
    )


def _installed_paths(target: TargetEnvironment, name: NormalizedName) -> list[str]:
    location = target.locations.get(name)
    if location is None:
        return []
    try:
        entries = parse_record((location / "RECORD").read_text(encoding="utf-8", errors="replace"))
    except (OSError, MalformedRecord):
        return []
    paths = (posixpath.normpath(e.path) for e in entries)
    return [p for p in paths if not p.startswith("..") and ".dist-info/" not in p]


def check_shadowing(
    wheels: Sequence[WheelFile],
    index_of: Mapping[NormalizedName, str],
    target: TargetEnvironment | None,
    route: Callable[[NormalizedName], str],
    allowed: frozenset[NormalizedName] = frozenset(),
) -> dict[NormalizedName, list[str]]:
    """Refuse files written by distributions of different indexes (and unsafe wheel paths);
    a distribution in ``allowed`` (``--allow-overwrite``) may write over another index's files.
    Returns the files each wheel writes, relative to the site directory."""
    owners: dict[str, Owner] = {}
    paths: dict[NormalizedName, list[str]] = {}
    for wheel in wheels:
        owner = (wheel.name, index_of.get(wheel.name, "?"))
        paths[wheel.name] = check_wheel_paths(wheel.path, wheel.path.name)
        for path in paths[wheel.name]:
            previous = owners.setdefault(path, owner)
            if _conflict(owner, previous, allowed):
                raise _refuse(path, owner, previous, installed=False)
    if target is None:
        return paths
    incoming = {w.name for w in wheels}
    for name in target.locations:
        if name in incoming:
            continue  # being replaced by its new version
        for path in _installed_paths(target, name):
            new = owners.get(path)
            if new is not None and _conflict(new, (name, route(name)), allowed, installed=True):
                raise _refuse(path, new, (name, route(name)), installed=True)
    return paths


def _conflict(
    new: Owner, old: Owner, allowed: frozenset[NormalizedName], *, installed: bool = False
) -> bool:
    """Whether ``new`` writing a file of ``old`` is refused.  An allowed name may write over
    others; it does not open its own installed files to other indexes.  Within one plan the
    order pip writes in is not known, so either side being allowed settles it."""
    if new[0] == old[0] or new[1] == old[1]:
        return False
    if installed:
        return new[0] not in allowed
    return new[0] not in allowed and old[0] not in allowed
