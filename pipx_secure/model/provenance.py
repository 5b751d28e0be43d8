"""What spip recorded about a distribution it installed (the provenance file's entries)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProvenanceEntry:
    """One distribution installed by spip."""

    name: str
    version: str
    index: str
    index_url: str
    filename: str
    sha256: str
    record_sha256: str | None = None
    #: For a distribution spip built from an sdist: the wheel it built and installed.
    wheel_filename: str | None = None
    wheel_sha256: str | None = None
