"""``spip audit``: where did every installed distribution come from, and what will Python run?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipx_secure.audit.report import AuditReport
from pipx_secure.commands.context import Services
from pipx_secure.model.accept import AcceptRule


@dataclass(frozen=True)
class AuditSettings:
    """``spip audit``'s flags."""

    map_path: Path | None = None
    python: str | None = None
    exposure: bool = True
    accept: tuple[AcceptRule, ...] = ()
    full_download: bool = False


def run(settings: AuditSettings, services: Services) -> AuditReport:
    """Audit the target environment against the map (errors: the CLI exits 2)."""
    from pipx_secure.audit.engine import Auditor
    from pipx_secure.audit.interpreter import inspect
    from pipx_secure.install.target import choose_python

    source_map = services.load_map(settings.map_path)
    # The audit asks the interpreter itself, without its site module: no code of the
    # audited environment runs (services.target() would run its .pth files).
    target = inspect(choose_python(settings.python, services.environ), services.processes)
    transport = services.transport()
    anonymous = services.anonymous_transport()
    try:
        count = len(target.environment.installed)
        with services.reporter.status(f"Auditing {count} distributions"):
            auditor = Auditor(
                source_map,
                target,
                services.cache,
                transport,
                anonymous,
                services.processes,
                accept=(*source_map.audit_accept, *settings.accept),
                full_download=settings.full_download,
            )
            return auditor.run(exposure=settings.exposure)
    finally:
        transport.close()
        anonymous.close()
