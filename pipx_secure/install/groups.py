"""Disjoint groups of one plan's wheels, installed by concurrent installer processes.

pip installs wheels one after another on one core.  Wheels that share no file can be
installed by separate pip processes at once, each offline over its own wheelhouse, with the
same hashes: the result on disk is the one a single pip run writes.  Wheels that write a
common file (``tests/__init__.py``, a namespace package's ``__init__.py``) stay in one group,
so whichever order pip would have used still decides; an install that replaces distributions
already present (an upgrade, a reinstall) runs as one group, because pip removes the old
files first.  Groups are balanced by size, largest first onto the lightest group.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from packaging.utils import NormalizedName

from pipx_secure.install.wheelhouse import WheelFile

#: Below this many wheels one process is quicker than the start-up of two.
MIN_WHEELS = 8
MAX_GROUPS = 4


def _components(
    wheels: Sequence[WheelFile], paths: Mapping[NormalizedName, Sequence[str]]
) -> list[list[WheelFile]]:
    """Wheels joined when they write a common file (union-find over file paths)."""
    parent = list(range(len(wheels)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_owner: dict[str, int] = {}
    for index, wheel in enumerate(wheels):
        for path in paths.get(wheel.name, ()):
            other = first_owner.setdefault(path, index)
            if other != index:
                parent[root(index)] = root(other)
    joined: dict[int, list[WheelFile]] = {}
    for index, wheel in enumerate(wheels):
        joined.setdefault(root(index), []).append(wheel)
    return list(joined.values())


def _size(wheels: Sequence[WheelFile]) -> int:
    total = 0
    for wheel in wheels:
        try:
            total += wheel.path.stat().st_size
        except OSError:
            continue
    return total


def install_groups(
    wheels: Sequence[WheelFile],
    paths: Mapping[NormalizedName, Sequence[str]],
    *,
    replacing: bool,
    cores: int | None = None,
) -> list[list[WheelFile]]:
    """Split ``wheels`` into at most one group per core (one group when it cannot help)."""
    count = min(cores or os.cpu_count() or 1, MAX_GROUPS)
    if replacing or count <= 1 or len(wheels) < MIN_WHEELS:
        return [list(wheels)]
    components = sorted(_components(wheels, paths), key=_size, reverse=True)
    groups: list[list[WheelFile]] = [[] for _ in range(min(count, len(components)))]
    weights = [0] * len(groups)
    for component in components:
        lightest = weights.index(min(weights))
        groups[lightest].extend(component)
        weights[lightest] += _size(component)
    order = {wheel.name: i for i, wheel in enumerate(wheels)}
    return [sorted(group, key=lambda w: order[w.name]) for group in groups if group]
