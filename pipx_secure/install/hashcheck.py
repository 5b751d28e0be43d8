"""``--hash`` and ``--require-hashes`` (pip's hash-checking mode) against the files served.

A user's ``--hash`` must match the file the assigned index serves for the pinned version.  In
hash-checking mode every package of the plan needs a requirement pinned with ``==`` and hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.errors import IntegrityError, UsageError
from pipx_secure.install.workspace import Workspace
from pipx_secure.model.hashes import Digest, file_digest
from pipx_secure.model.reqline import RequirementLine
from pipx_secure.resolve.planner import Resolution


def _wanted(
    lines: Sequence[RequirementLine],
) -> tuple[dict[NormalizedName, tuple[str, ...]], set[NormalizedName]]:
    wanted: dict[NormalizedName, tuple[str, ...]] = {}
    pinned: set[NormalizedName] = set()
    for line in lines:
        if line.requirement is None:
            continue
        name = canonicalize_name(line.requirement.name)
        if line.hashes:
            wanted[name] = wanted.get(name, ()) + line.hashes
        specs = list(line.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "==="):
            pinned.add(name)
    return wanted, pinned


def check_user_hashes(
    workspace: Workspace,
    resolution: Resolution,
    lines: Sequence[RequirementLine],
    *,
    require: bool,
) -> None:
    """Refuse the plan unless every ``--hash`` given matches the file its index serves."""
    wanted, pinned = _wanted(lines)
    if require:
        for pin in resolution.plan.pins:
            if pin.name in workspace.local:
                continue
            if pin.name not in wanted or pin.name not in pinned:
                raise UsageError(
                    f"hash-checking mode: {pin.name} {pin.version} needs a requirement "
                    "pinned with == and --hash",
                    hint=f"add `{pin.name}=={pin.version} --hash={pin.digest}` after checking it",
                )
    by_name = {p.name: p for p in resolution.plan.pins}
    for name, hashes in sorted(wanted.items()):
        found = by_name.get(name)
        if found is None or name in workspace.local:
            continue
        pin = found
        candidate = resolution.candidates[name]
        path = workspace.transport.download(candidate.index, candidate.link)
        for item in hashes:
            algorithm, _, value = item.partition(":")
            if Digest(algorithm, value).matches(file_digest(path, algorithm)):
                break
        else:
            raise IntegrityError(
                f"{name} {pin.version}: {pin.filename} from index {pin.index} matches none "
                "of the --hash values given",
                hint="the index serves other bytes than the ones you pinned; nothing was installed",
            )
