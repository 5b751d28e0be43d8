"""Results as text: one function per command result, all through :class:`Output`.

The result types are imported for type checking only: rendering one command's result loads
no other command (a satisfied ``spip install`` imports only what it uses).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pipx_secure.cli.output import Output
from pipx_secure.commands.noop import NOTHING_TO_INSTALL

if TYPE_CHECKING:
    from pipx_secure.audit.report import AuditReport
    from pipx_secure.commands.auth import AuthResult
    from pipx_secure.commands.check import CheckReport
    from pipx_secure.commands.explain import ExplainResult
    from pipx_secure.commands.fetch import FetchResult
    from pipx_secure.commands.init import InitResult
    from pipx_secure.commands.install import InstallResult
    from pipx_secure.commands.lock import LockResult
    from pipx_secure.commands.outdated import OutdatedResult
    from pipx_secure.commands.passthrough import PassthroughResult
    from pipx_secure.commands.sync import SyncResult


def _styles() -> dict[object, str]:
    from pipx_secure.audit.report import Verdict

    return {
        Verdict.VERIFIED: "green",
        Verdict.INSTALLED_BY_SPIP: "green",
        Verdict.MISMATCH: "bold red",
        Verdict.NOT_ON_ASSIGNED_INDEX: "bold red",
        Verdict.UNVERIFIABLE: "yellow",
        Verdict.ACCEPTED: "cyan",
        Verdict.UNOWNED: "bold red",
    }


def install(result: InstallResult, output: Output, quiet: int) -> None:
    """``spip install``'s result."""
    if result.report_text is not None:
        output.out(result.report_text)
    if result.dry_run and result.plan is not None:
        for pin in result.plan.pins:
            state = "satisfied" if pin in result.satisfied else "would install"
            output.out(f"{pin.name} {pin.version}  [{pin.index}]  {state}")
        return
    if quiet:
        return
    if result.fast_path:
        output.out(NOTHING_TO_INSTALL)
    elif result.installed:
        output.out(
            "Installed: " + ", ".join(f"{p.name} {p.version} [{p.index}]" for p in result.installed)
        )
    else:
        output.out("Nothing to install: every requirement is already satisfied.")


def lock(result: LockResult, output: Output) -> None:
    """``spip lock``'s result."""
    if result.changed:
        output.err(f"spip: wrote {result.output} ({result.packages} packages)")
    else:
        output.err(f"spip: {result.output} is up to date ({result.packages} packages)")
    for environment in result.environments:
        output.err(f"spip: locked for {environment}")
    for moved in result.moved:
        output.err(f"spip: {moved}")


def sync(result: SyncResult, output: Output, quiet: int) -> None:
    """``spip sync``'s result."""
    if result.dry_run:
        for pin in result.installed:
            output.out(f"would install {pin.name} {pin.version} [{pin.index}]")
        for name in result.uninstalled:
            output.out(f"would uninstall {name}")
        return
    if quiet:
        return
    done = ", ".join(f"{p.name} {p.version} [{p.index}]" for p in result.installed)
    output.out(f"Installed: {done}" if done else "Nothing to install: the environment matches.")
    if done and not result.network:
        output.out(
            "Every file came from spip's cache or the wheelhouse, verified by the lock's "
            "hashes; no index was asked."
        )
    elif result.local:
        output.out(
            f"{result.local} file(s) came from spip's cache or the wheelhouse, verified by "
            "the lock's hashes."
        )
    if result.uninstalled:
        output.out("Uninstalled: " + ", ".join(result.uninstalled))


def check(report: CheckReport, output: Output, as_json: bool, quiet: int) -> None:
    """``spip check``'s report."""
    if as_json:
        output.out(json.dumps(report.to_json(), indent=2, sort_keys=True))
        return
    for finding in report.findings:
        output.out(f"{finding.location}: {finding.severity}: {finding.kind}: {finding.message}")
    if not quiet:
        output.err(
            f"spip check: {len(report.findings)} finding(s) in {len(report.files)} file(s); "
            f"map {report.map_origin}"
        )


def explain(result: ExplainResult, output: Output) -> None:
    """``spip explain``'s sentences."""
    for line in result.lines:
        output.out(line)


def auth(result: AuthResult, output: Output) -> None:
    """``spip auth``'s lines and notes."""
    for note in result.notes:
        output.err(f"spip: note: {note}")
    for line in result.lines:
        output.out(line)


def passthrough(result: PassthroughResult, output: Output) -> None:
    """pip's own output, unchanged but scrubbed."""
    if result.stdout:
        output.out(result.stdout.rstrip("\n"))
    if result.stderr:
        output.err(result.stderr.rstrip("\n"))


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def audit_summary(report: AuditReport) -> str:
    """The summary line: counts per verdict, what was checked, what was downloaded."""
    from pipx_secure.audit.report import FileKind

    counts = report.summary()
    packages = ", ".join(f"{n} {v}" for v, n in counts["packages"].items()) or "none"
    files = ", ".join(f"{n} {v}" for v, n in counts["files"].items()) or "none"
    pth = [f for f in report.files if f.kind is FileKind.PTH]
    running = sum(1 for f in pth if f.executes)
    transfer = report.transfer
    return (
        f"{len(report.packages)} distributions: {packages}; file findings: {files}; "
        f"{len(pth)} .pth ({running} run code); checked {report.checked.files} files, "
        f"{report.checked.bytecode} bytecode, {report.checked.scripts} in scripts; "
        f"downloaded {_size(transfer.total_bytes)} (ranges: {_size(transfer.range_bytes)} in "
        f"{transfer.range_requests} requests; whole wheels: {transfer.downloads}, "
        f"{_size(transfer.download_bytes)}); {len(report.exposures)} exposed names"
    )


def audit(report: AuditReport, output: Output, fmt: str) -> None:
    """``spip audit``'s table (rich), JSON, SARIF or CycloneDX."""
    if fmt != "table":
        from pipx_secure.audit import formats

        if fmt == "sarif":
            document = formats.sarif(report)
        elif fmt == "cyclonedx":
            document = formats.cyclonedx(report)
        else:
            document = report.to_json()
        output.out(json.dumps(document, indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from pipx_secure.audit.report import FileKind, Verdict

    styles = _styles()

    console = Console(
        no_color=bool(output.environ.get("NO_COLOR")) or None, highlight=False, soft_wrap=False
    )
    table = Table(title=f"spip audit of {report.python}", show_lines=False)
    for column in ("package", "version", "index", "verdict", "why"):
        table.add_column(column, overflow="fold")
    for item in report.packages:
        why = item.reason + (f" [{', '.join(item.files[:5])}]" if item.files else "")
        style = styles[item.verdict]
        table.add_row(
            item.name,
            item.version,
            item.index or "-",
            f"[{style}]{item.verdict.value}[/]",
            output.scrub(why),
        )
    console.print(table)
    for finding in report.files:
        if finding.verdict is Verdict.VERIFIED and finding.kind is not FileKind.PTH:
            continue
        owners = ", ".join(finding.owners) or "no owner"
        style = styles[finding.verdict]
        text = f"{finding.kind.value} {finding.path} ({owners}): {finding.reason}"
        console.print(f"[{style}]{finding.verdict.value}[/] {escape(output.scrub(text))}")
    for exposure in report.exposures:
        level = "[bold red]EXPOSED[/]" if exposure.higher else "[yellow]exposed[/]"
        console.print(
            f"{level} {exposure.name}: routed to {exposure.index} (highest "
            f"{exposure.private_version or 'none'}), and the default index has "
            f"{exposure.public_version}"
        )
    for forwarding in report.forwarding:
        console.print(f"[bold red]FORWARDING[/] {output.scrub(forwarding.message)}")
    for note in report.notes:
        output.err(f"spip: note: {note}")
    console.print(audit_summary(report))


def init(result: InitResult, output: Output) -> None:
    """``spip init``'s report (the map itself on stdout with --dry-run)."""
    for note in result.notes:
        output.err(f"spip: note: {note}")
    if result.written is None:
        output.out(result.map_text.rstrip("\n"))
    else:
        output.out(f"wrote {result.written}")
    for line in result.stored:
        output.out(line)
    for done in result.rewritten:
        output.out(f"removed {done.removed} password(s) from {done.path} (backup: {done.backup})")
    if result.changes:
        output.out("With this map, compared with pip:")
        for line in result.changes:
            output.out(f"  {line}")
    for line in result.exposure:
        output.out(line)
    if result.check is not None:
        check(result.check, output, False, 0)


def fetch(result: FetchResult, output: Output, quiet: int) -> None:
    """``spip download`` / ``spip wheel``: each file written, with its sha256."""
    if quiet:
        return
    for path, digest in result.files:
        output.out(f"{path}  sha256:{digest}")


def outdated(result: OutdatedResult, output: Output, output_format: str) -> None:
    """``spip list -o/-u`` in pip's columns or JSON."""
    for note in result.notes:
        output.err(f"spip: note: {note}")
    if output_format == "json":
        rows = [
            {
                "name": r.name,
                "version": str(r.version),
                "latest_version": str(r.latest),
                "latest_filetype": r.filetype,
                "index": r.index,
            }
            for r in result.rows
        ]
        output.out(json.dumps(rows))
        return
    table = [("Package", "Version", "Latest", "Type", "Index")]
    table += [(r.name, str(r.version), str(r.latest), r.filetype, r.index) for r in result.rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for number, row in enumerate(table):
        output.out(" ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if number == 0:
            output.out(" ".join("-" * width for width in widths))
