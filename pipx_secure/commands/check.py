"""``spip check``: the source map and the files that depend on it, verified for CI.

Exit codes are stable: 0 clean, 1 findings, 2 usage or input error (the map or a lock cannot
be read).  The JSON report (``--json``) has this schema (version 1)::

    {
      "schema": 1,
      "ok": bool,                      # no findings and no error
      "exit_code": 0 | 1 | 2,
      "map": {"origin": str, "indexes": {name: url}, "default": str | null,
              "strict": bool, "rules": int},
      "files": [str, ...],             # files checked, as given
      "findings": [{"severity": "error" | "warning", "kind": str, "location": str,
                    "package": str | null, "index": str | null, "message": str}, ...],
      "error": str | null              # the input error when exit_code is 2
    }

Finding kinds: ``unmatched`` (strict map, no rule), ``conflict`` (equally specific rules
disagree), ``unused-rule`` (a warning, which does not fail the check: a rule that matches no listed
name; only when files are given),
``requirement-file`` (refused option or malformed line), ``direct-url`` (a URL
requirement that ``[direct-urls]`` does not allow), ``local-path`` (a warning: a local path or
editable), ``lock-index`` (a lock's ``index`` key disagrees with the map), ``lock-url`` (a lock's
file URL is not on its assigned index's origin or ``file-hosts``, with or without an ``index``
key), ``lock-direct`` (a lock's direct source), ``not-on-index`` (``--online``: a pinned version
of a requirement file, or a lock's file, is not on its assigned index), ``lock-hash``
(``--online``: a lock's file hash differs from what its assigned index publishes now, or the
lock gives no hash spip can verify).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.pylock import Package, PackageSdist, PackageWheel
from packaging.utils import canonicalize_name

from pipx_secure.commands.context import Services
from pipx_secure.errors import (
    IntegrityError,
    PolicyError,
    RequirementFileError,
    SourceMapError,
    SpipError,
)
from pipx_secure.model.reqline import RequirementLine
from pipx_secure.model.sourcemap import RuleKind, SourceMap

if TYPE_CHECKING:
    from pipx_secure.index.pages import RoutedPages


@dataclass(frozen=True)
class Finding:
    """One problem found by ``spip check``."""

    kind: str
    location: str
    message: str
    package: str | None = None
    index: str | None = None
    severity: str = "error"  # "error" fails the check; "warning" is reported only

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON object."""
        return {
            "severity": self.severity,
            "kind": self.kind,
            "location": self.location,
            "package": self.package,
            "index": self.index,
            "message": self.message,
        }


@dataclass(frozen=True)
class CheckReport:
    """Everything ``spip check`` found."""

    map_origin: str
    map_summary: dict[str, Any]
    files: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    _codes: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings, 2 input error."""
        if self.error is not None:
            return 2
        return 1 if any(f.severity == "error" for f in self.findings) else 0

    def to_json(self) -> dict[str, Any]:
        """The report in the documented schema."""
        return {
            "schema": 1,
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "map": self.map_summary,
            "files": list(self.files),
            "findings": [f.to_json() for f in self.findings],
            "error": self.error,
        }


def _is_lock(path: Path) -> bool:
    name = path.name
    return name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml"))


@dataclass(frozen=True)
class CheckSettings:
    """``spip check``'s flags."""

    files: tuple[Path, ...] = ()
    map_path: Path | None = None
    online: bool = False


def run(settings: CheckSettings, services: Services) -> CheckReport:
    """Check the map and the files (requirement files and PEP 751 locks)."""
    return run_check(
        settings.map_path, list(settings.files), online=settings.online, services=services
    )


class _InputError(Exception):
    """A file that cannot be read at all: the check ends with exit code 2."""


class _Checker:
    """Findings about one source map and the files that depend on it."""

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.findings: list[Finding] = []
        self.used_rules: set[str] = set()
        self.pins: list[tuple[str, str, str]] = []  # (name, version, location)
        self.lock_files: list[tuple[str, str, Package, PackageWheel | PackageSdist]] = []

    def route(self, name: str, location: str) -> None:
        """Route ``name``; an unmatched or conflicting name is a finding."""
        try:
            found = self.source_map.index_for(name)
        except PolicyError as exc:
            self.add("unmatched", location, exc.render(), canonicalize_name(name))
            return
        except SourceMapError as exc:
            self.add("conflict", location, exc.render(), canonicalize_name(name))
            return
        if found.rule is not None:
            self.used_rules.add(found.rule.raw)

    def add(
        self,
        kind: str,
        location: str,
        message: str,
        package: str | None = None,
        index: str | None = None,
        severity: str = "error",
    ) -> None:
        """Record a finding."""
        self.findings.append(Finding(kind, location, message, package, index, severity))

    def lock_file(self, path: Path) -> None:
        """A PEP 751 lock: every package routed, and its recorded sources against the map."""
        from pipx_secure.model.pylock import (
            LockError,
            check_lock_against_map,
            package_files,
            read_pylock,
        )

        try:
            lock = read_pylock(path)
        except LockError as exc:
            raise _InputError(exc.render()) from None
        for position, package in enumerate(lock.packages):
            self.route(package.name, str(path))
            for key, artifact in package_files(package):
                self.lock_files.append(
                    (str(path), f"packages[{position}].{key}", package, artifact)
                )
        try:
            lock_findings = check_lock_against_map(lock, self.source_map)
        except SpipError:
            lock_findings = []  # routing problems were reported by route() above
        for lf in lock_findings:
            self.add(lf.kind, str(path), lf.message, lf.name, lf.map_index_name)

    def requirement_file(self, path: Path) -> None:
        """A requirement file: refused options, direct URLs, local paths, routes and pins."""
        from pipx_secure.model.reqfile import parse_requirement_files

        if not path.is_file():
            raise _InputError(f"{path}: no such file")
        try:
            parsed = parse_requirement_files([path])
        except RequirementFileError as exc:
            self.add("requirement-file", exc.location or str(path), exc.render())
            return
        for line in parsed.requirements + parsed.constraints:
            self.requirement_line(line)

    def requirement_line(self, line: RequirementLine) -> None:
        """One requirement of a file."""
        from pipx_secure.resolve.roots import direct_url_allowed

        if line.url:
            try:
                direct_url_allowed(line, self.source_map)
            except PolicyError as exc:
                name = line.requirement.name if line.requirement else None
                self.add(
                    "direct-url",
                    line.location,
                    exc.render(),
                    canonicalize_name(name) if name else None,
                )
            return
        if line.path or line.editable or line.requirement is None:
            self.add(
                "local-path",
                line.location,
                "local path or editable requirement: built from the working tree, not from an "
                "index (its dependencies are still routed)",
                severity="warning",
            )
            return
        requirement = line.requirement
        self.route(requirement.name, line.location)
        specs = list(requirement.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            self.pins.append((canonicalize_name(requirement.name), specs[0].version, line.location))

    def unused_rules(self) -> None:
        """Rules that match no listed package (warnings: a map is often shared)."""
        for rule in self.source_map.rules:
            if rule.raw not in self.used_rules and rule.kind in (RuleKind.EXACT, RuleKind.PATTERN):
                self.add(
                    "unused-rule",
                    rule.location,
                    f"rule {rule.raw!r} -> {rule.index} matches no listed package",
                    index=rule.index,
                    severity="warning",
                )


def map_summary(source_map: SourceMap) -> dict[str, Any]:
    """The ``map`` object of the JSON report."""
    return {
        "origin": source_map.origin,
        "indexes": {str(n): i.url for n, i in sorted(source_map.indexes.items())},
        "default": source_map.default,
        "strict": source_map.strict,
        "rules": len(source_map.rules),
    }


def run_check(
    map_path: Path | None,
    files: list[Path],
    *,
    online: bool = False,
    services: Services | None = None,
) -> CheckReport:
    """Check the map and ``files`` (requirement files and PEP 751 locks)."""
    services = services or Services.create()
    given = tuple(str(f) for f in files)
    try:
        source_map = services.load_map(map_path)
    except SourceMapError as exc:
        return CheckReport("(invalid)", {}, given, error=exc.render())
    summary = map_summary(source_map)
    checker = _Checker(source_map)
    try:
        for path in files:
            if _is_lock(path):
                checker.lock_file(path)
            else:
                checker.requirement_file(path)
    except _InputError as exc:
        return CheckReport(source_map.origin, summary, given, error=str(exc))
    if files:
        checker.unused_rules()
    if online and (checker.pins or checker.lock_files):
        checker.findings += _online(source_map, checker, services)
    return CheckReport(source_map.origin, summary, given, tuple(checker.findings))


def _pin_finding(pages: RoutedPages, name: str, version: str, location: str) -> Finding | None:
    """``not-on-index`` when ``name==version`` has no file on its assigned index."""
    from packaging.version import InvalidVersion, Version

    from pipx_secure.model.filenames import parse_filename

    try:
        index = pages.index_for(canonicalize_name(name))
        page = pages.page(canonicalize_name(name))
        wanted = Version(version)
    except (SpipError, InvalidVersion):
        return None
    versions = set()
    for link in page.files:
        try:
            versions.add(parse_filename(link.filename).version)
        except SpipError:
            continue
    if wanted in versions:
        return None
    message = f"{name}=={version} is not on its assigned index {index.name} ({index.redacted})"
    return Finding("not-on-index", location, message, name, index.name)


def _lock_file_finding(
    pages: RoutedPages,
    origin: str,
    key: str,
    package: Package,
    artifact: PackageWheel | PackageSdist,
) -> Finding | None:
    """A lock file the assigned index does not serve now, or serves with another hash."""
    from pipx_secure.resolve.fromlock import locked_file, match_served

    name = canonicalize_name(package.name)
    location = f"{origin} [{key}]"
    try:
        locked = locked_file(name, package.version, artifact)
    except IntegrityError as exc:
        return Finding("lock-hash", location, f"{key} {exc.message}", name)
    except SpipError:
        return None  # a direct source: reported as lock-direct
    try:
        index = pages.index_for(name)
        how, link = match_served(pages.page(name).files, locked)
    except SpipError:
        return None  # unrouted (reported by route()) or an index that cannot be read
    if how == "hash":
        return None
    where = f"index {index.name} ({index.redacted})"
    if link is None:
        message = f"{key} {name}: {locked.filename} is not served by {where}"
        return Finding("not-on-index", location, message, name, index.name)
    message = (
        f"{key} {name}: the lock's hash for {locked.filename} differs from what {where} "
        f"publishes now for {link.filename}"
    )
    return Finding("lock-hash", location, message, name, index.name)


def _online(source_map: SourceMap, checker: _Checker, services: Services) -> list[Finding]:
    """Pins and lock files against what each assigned index serves now."""
    from pipx_secure.index.pages import RoutedPages

    transport = services.transport()
    pages = RoutedPages(source_map, transport)
    found: list[Finding | None] = []
    try:
        names = {n for n, _v, _l in checker.pins}
        names |= {canonicalize_name(p.name) for _o, _k, p, _a in checker.lock_files}
        routed = []
        for name in sorted(names):
            try:
                pages.index_for(canonicalize_name(name))
            except SpipError:
                continue
            routed.append(canonicalize_name(name))
        pages.prefetch(routed)
        found += [_pin_finding(pages, *pin) for pin in checker.pins]
        found += [_lock_file_finding(pages, *entry) for entry in checker.lock_files]
    finally:
        transport.close()
    return [f for f in found if f is not None]
