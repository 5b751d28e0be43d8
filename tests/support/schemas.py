"""Validate audit output against the formats' published JSON schemas, offline.

SARIF 2.1.0: the OASIS schema stored in ``tests/data/schemas`` (its source is named in the
README there), checked with jsonschema's Draft 4 validator (the schema's own draft).
CycloneDX 1.6: the schemas cyclonedx-python-lib ships, through its strict JSON validator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "schemas"


def sarif_errors(document: Any) -> list[str]:
    """Every way ``document`` breaks the SARIF 2.1.0 schema (empty: valid)."""
    import jsonschema

    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def validate_sarif(document: Any) -> None:
    errors = sarif_errors(document)
    assert errors == [], errors


def cyclonedx_error(document: Any) -> str | None:
    """Why ``document`` breaks the CycloneDX 1.6 JSON schema (None: valid)."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))
    return None if error is None else str(error)


def validate_cyclonedx(document: Any) -> None:
    error = cyclonedx_error(document)
    assert error is None, error
