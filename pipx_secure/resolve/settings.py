"""How to resolve: settings fixed at the CLI boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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
    ignore_requires_python: bool = False
    prereleases_for: Mapping[NormalizedName, bool] = field(default_factory=dict)
    """``--all-releases`` (True) / ``--only-final`` (False) per name."""
    uploaded_prior_to: datetime | None = None
    """No file uploaded after this (``--uploaded-prior-to``), besides each index's own."""
    now: datetime | None = None
    """The moment durations such as ``exclude-newer = "7 days"`` count back from."""
