"""The plan: frozen pins produced by resolution, before anything is installed.

A plan is data: for each project the version, its assigned index, the chosen file and the
sha256 that index published.  It is deterministic (sorted by name) and carries no
credential: URLs are stored without any ``user:password@`` part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.errors import IntegrityError
from pipx_secure.model.hashes import Digest, best_expected
from pipx_secure.model.redact import strip_userinfo
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index


class Chosen(Protocol):
    """What the planner chose for a project (a resolver candidate, structurally)."""

    @property
    def name(self) -> NormalizedName: ...

    @property
    def version(self) -> Version: ...

    @property
    def link(self) -> FileLink: ...

    @property
    def index(self) -> Index: ...


@dataclass(frozen=True)
class Pin:
    """One project of the plan."""

    name: NormalizedName
    version: Version
    index: str  # index name from the source map
    index_url: str  # without credentials
    filename: str
    url: str  # without credentials
    digest: Digest
    requested: bool = False
    upload_time: str | None = None
    size: int | None = None

    @property
    def is_wheel(self) -> bool:
        """Whether the pinned file is a wheel (else an sdist spip builds)."""
        return self.filename.endswith(".whl")

    def requirement_line(self) -> str:
        """``name==version``."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Plan:
    """Every project to be present after the install, sorted by name."""

    pins: tuple[Pin, ...]

    @classmethod
    def from_candidates(
        cls, candidates: Iterable[Chosen], requested: Iterable[NormalizedName] = ()
    ) -> Plan:
        """Freeze resolver candidates into pins."""
        wanted = set(requested)
        pins = []
        for c in candidates:
            digest = best_expected(c.link.hashes)
            if digest is None:  # the transport refuses such files before they get here
                raise IntegrityError(f"{c.link.filename}: its index published no hash")
            pins.append(
                Pin(
                    name=c.name,
                    version=c.version,
                    index=c.index.name,
                    index_url=c.index.url,
                    filename=c.link.filename,
                    url=strip_userinfo(c.link.url),
                    digest=digest,
                    requested=c.name in wanted,
                    upload_time=c.link.upload_time,
                    size=c.link.size,
                )
            )
        return cls(tuple(sorted(pins, key=lambda p: p.name)))

    def changes(
        self, installed: Mapping[NormalizedName, Version], *, reinstall: bool = False
    ) -> tuple[tuple[Pin, ...], tuple[Pin, ...]]:
        """(pins to install, pins already satisfied by the installed version)."""
        to_install = []
        satisfied = []
        for pin in self.pins:
            if not reinstall and installed.get(pin.name) == pin.version:
                satisfied.append(pin)
            else:
                to_install.append(pin)
        return tuple(to_install), tuple(satisfied)
