"""``spip audit``: where did every installed distribution come from?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipx_secure.audit.report import AuditReport
from pipx_secure.commands.context import Services


@dataclass(frozen=True)
class AuditSettings:
    """``spip audit``'s flags."""

    map_path: Path | None = None
    python: str | None = None
    exposure: bool = True


def run(settings: AuditSettings, services: Services) -> AuditReport:
    """Audit the target environment against the map (errors: the CLI exits 2)."""
    from pipx_secure.audit.engine import Auditor

    source_map = services.load_map(settings.map_path)
    target = services.target(settings.python)
    transport = services.transport()
    anonymous = services.anonymous_transport()
    try:
        with services.reporter.status(f"Auditing {len(target.installed)} distributions"):
            auditor = Auditor(source_map, target, services.cache, transport, anonymous)
            return auditor.run(exposure=settings.exposure)
    finally:
        transport.close()
        anonymous.close()
