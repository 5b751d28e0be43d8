"""How to resolve: settings fixed at the CLI boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.utils import NormalizedName

from pipx_secure.resolve.finder import BinaryPolicy


@dataclass(frozen=True)
class ResolveSettings:
    """How to resolve (fixed at the CLI boundary)."""

    pre: bool = False
    policy: BinaryPolicy = BinaryPolicy.ANY
    policy_for: Mapping[NormalizedName, BinaryPolicy] = field(default_factory=dict)
    upgrade: bool = False
    upgrade_eager: bool = False
    no_deps: bool = False
