"""Install provenance: what spip installed, from where, with which hash.

After each successful install spip writes ``<prefix>/spip-provenance.json`` in the target
environment: for each distribution it installed, the index (name and credential-free URL), the
file, its sha256, and the sha256 of the installed RECORD file.  ``spip audit`` reads it back.
Nothing secret is ever written here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipx_secure.fs import atomic_write
from pipx_secure.model.provenance import ProvenanceEntry

FILENAME = "spip-provenance.json"


def record_digest(record: Path) -> str | None:
    """sha256 of an installed RECORD file, or None if missing."""
    try:
        return hashlib.sha256(record.read_bytes()).hexdigest()
    except OSError:
        return None


def read_provenance(prefix: Path) -> dict[str, ProvenanceEntry]:
    """The provenance records of an environment (empty if none or unreadable)."""
    try:
        data = json.loads((prefix / FILENAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = {}
    if not isinstance(data, dict) or not isinstance(data.get("packages"), dict):
        return {}
    for name, raw in data["packages"].items():
        if not isinstance(raw, dict):
            continue
        try:
            fields: dict[str, Any] = {k: raw.get(k) for k in ProvenanceEntry.__dataclass_fields__}
            entries[name] = ProvenanceEntry(**fields)
        except TypeError:
            continue
    return entries


def write_provenance(prefix: Path, entries: Iterable[ProvenanceEntry]) -> None:
    """Merge ``entries`` into the environment's provenance file, atomically."""
    current = {k: asdict(v) for k, v in read_provenance(prefix).items()}
    for entry in entries:
        current[entry.name] = asdict(entry)
    payload: Mapping[str, Any] = {"schema": 1, "packages": dict(sorted(current.items()))}
    atomic_write(prefix / FILENAME, json.dumps(payload, indent=2, sort_keys=True) + "\n")
