"""One requirement, as pip writes it: PEP 508, a local path, or a URL (parsed purely).

Shared by the requirement-file grammar (:mod:`pipx_secure.model.reqfile`) and the command line.
Options that would undo the source map (see :data:`REFUSED_OPTIONS`) are refused with their
location; URLs in messages are rendered through :func:`~pipx_secure.model.redact.redact`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import SplitResult, unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from pipx_secure.errors import RequirementFileError
from pipx_secure.model.redact import redact, redact_text

CLI_LOCATION = "command line"
_ROUTE = "route the package in the source map (spip.toml [packages]) instead"

# option -> (why it is refused, what to do instead)
_REFUSED: dict[str, tuple[str, str]] = {
    "--index-url": (
        "it sends every package to one index and bypasses the per-package source map",
        f"{_ROUTE}; set `default` there for names no rule matches",
    ),
    "--extra-index-url": (
        "pip would take the highest version found on any index, which is dependency confusion",
        f"declare the index under [indexes] in spip.toml and {_ROUTE}",
    ),
    "--no-index": (
        "spip resolves only from the indexes of the source map",
        f"{_ROUTE}, or list a local project or wheel by its path",
    ),
    "--find-links": (
        "link pages and local directories bypass the source map",
        f"publish the files to an index, declare it in spip.toml and {_ROUTE}",
    ),
    "--trusted-host": (
        "it turns off TLS verification for a host",
        f"give the index a `ca-bundle` under [indexes] in spip.toml and {_ROUTE}",
    ),
}
ALIASES = {
    "-i": "--index-url",
    "-f": "--find-links",
    "-r": "--requirement",
    "-c": "--constraint",
    "-e": "--editable",
}

REFUSED_OPTIONS: Mapping[str, str] = MappingProxyType(
    {
        **{name: f"refused: {why} ({instead})" for name, (why, instead) in _REFUSED.items()},
        **{
            short: f"refused: {_REFUSED[long][0]} ({_REFUSED[long][1]})"
            for short, long in ALIASES.items()
            if long in _REFUSED
        },
    }
)
"""Options refused in requirement files and on the command line: why, and what to do instead."""

INCLUDE_OPTIONS = {"--requirement", "--constraint"}
FLAG_OPTIONS = {"--pre", "--prefer-binary", "--require-hashes"}
VALUED_OPTIONS = {"--only-binary", "--no-binary"}
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
SCHEME_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_NAMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@")
_EXTRAS_SUFFIX = re.compile(r"\[[^\]]*\]$")
_EGG = re.compile(r"(?:^|&)egg=([^&]+)")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_ARCHIVES = (
    ".whl",
    ".zip",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tar.lz",
    ".tlz",
    ".tar.lzma",
)


@dataclass(frozen=True)
class RequirementLine:
    """One requirement, from a file line or the command line.

    ``requirement`` is None for a bare local path or an unnamed URL; ``path`` is a local path
    (resolved against the file's directory, or the working directory for the command line);
    ``url`` is a direct URL (``name @ url``, a bare URL or a VCS URL); ``hashes`` are
    ``"algorithm:hex"`` strings from ``--hash``.
    """

    requirement: Requirement | None
    location: str
    editable: bool = False
    path: str | None = None
    url: str | None = None
    hashes: tuple[str, ...] = ()
    constraint: bool = False


@dataclass(frozen=True)
class RequirementSet:
    """Requirements, constraints, and the allowed global options found in files.

    ``options`` holds ``(option, value, location)``; ``value`` is None for flags.
    """

    requirements: tuple[RequirementLine, ...] = ()
    constraints: tuple[RequirementLine, ...] = ()
    options: tuple[tuple[str, str | None, str], ...] = ()


def merge(*sets: RequirementSet) -> RequirementSet:
    """Concatenate several sets, in order."""
    return RequirementSet(
        tuple(r for s in sets for r in s.requirements),
        tuple(c for s in sets for c in s.constraints),
        tuple(o for s in sets for o in s.options),
    )


# -- helpers --------------------------------------------------------------------------------


def _scrub(text: str) -> str:
    """``text`` with every URL rendered without secrets."""
    return redact_text(_URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text))


def error(message: str, location: str, hint: str | None = None) -> RequirementFileError:
    return RequirementFileError(
        _scrub(message), location=location, hint=_scrub(hint) if hint else None
    )


def check_hash(value: str, location: str) -> str:
    algorithm, sep, digest = value.partition(":")
    algorithm = algorithm.lower()
    hint = "use --hash=sha256:<64 hex digits> (sha384 and sha512 are accepted too)"
    if not sep or algorithm not in _HASH_LENGTHS:
        shown = algorithm if sep else value
        raise error(f"invalid --hash: unsupported algorithm {shown!r}", location, hint)
    if len(digest) != _HASH_LENGTHS[algorithm] or not _HEX.fullmatch(digest):
        raise error(
            f"invalid --hash: a {algorithm} digest is {_HASH_LENGTHS[algorithm]} hex digits",
            location,
            hint,
        )
    return f"{algorithm}:{digest.lower()}"


def split_option(token: str) -> tuple[str, str | None]:
    """``--name=value`` / ``-xvalue`` / ``-x=value`` -> (canonical name, value or None)."""
    if token.startswith("--"):
        name, sep, value = token.partition("=")
        return name, value if sep else None
    name, rest = token[:2], token[2:]
    if rest.startswith("="):
        rest = rest[1:]
    elif not rest:
        return ALIASES.get(name, name), None
    return ALIASES.get(name, name), rest


def refuse_if_listed(name: str, shown: str, location: str) -> None:
    refused = name if name in _REFUSED else None
    if refused is None and name.startswith("--") and len(name) > 4:
        # pip accepts unambiguous abbreviations of long options (``--extra-index``).
        matches = [option for option in _REFUSED if option.startswith(name)]
        refused = matches[0] if len(matches) == 1 else None
    if refused is not None:
        why, instead = _REFUSED[refused]
        raise error(f"option {shown} is refused: {why}", location, instead)


def _split_url(url: str, location: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise error(f"invalid URL {url}: {exc}", location) from None


def file_url_path(url: str, location: str) -> str:
    parts = _split_url(url, location)
    if parts.netloc not in ("", "localhost"):
        raise error(f"file URL {url} names a remote host", location, "use a local path")
    return unquote(parts.path)


def join_path(base_dir: Path, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))


def _named_bare_url(url: str, location: str) -> Requirement | None:
    egg = _EGG.search(_split_url(url, location).fragment)
    if egg is None:
        return None
    try:
        requirement = Requirement(egg.group(1))
    except InvalidRequirement:
        raise error(f"invalid #egg= name {egg.group(1)!r} in {url}", location) from None
    if requirement.specifier or requirement.marker:
        raise error(f"#egg= must be a project name, not {egg.group(1)!r}", location)
    requirement.url = url
    return requirement


def _looks_like_path(text: str) -> bool:
    if text.startswith((".", "/")) or os.sep in text or (os.altsep and os.altsep in text):
        return True
    return text.lower().endswith(_ARCHIVES)


_UNNAMED_HINT = "name it: NAME @ URL ; marker (the path as a file:// URL)"


def _bare_url(
    text: str, location: str, base_dir: Path, editable: bool
) -> tuple[Requirement | None, str | None, str | None]:
    """(named requirement, path, url) of a requirement written as a bare URL."""
    url, *after = text.split(None, 1)
    if after:
        raise error(f"unexpected text after the URL {url}: {after[0]!r}", location, _UNNAMED_HINT)
    named = _named_bare_url(url, location)
    if url.lower().startswith("file:"):
        return named, join_path(base_dir, file_url_path(url, location)), None
    if editable and not url.lower().startswith(_VCS):
        raise error(
            f"an editable URL must be a VCS URL (git+, hg+, svn+, bzr+), not {url}", location
        )
    return named, None, url


def _local_path(text: str, location: str, base_dir: Path) -> str:
    """The path of a requirement written as a local path (no markers, no extras)."""
    if ";" in text:
        raise error(
            f"environment markers are not supported on a local path: {text!r}",
            location,
            _UNNAMED_HINT,
        )
    if _EXTRAS_SUFFIX.search(text):
        raise error(
            f"extras are not supported on a local path: {text!r}",
            location,
            "install the project, and list the extra dependencies by name",
        )
    return join_path(base_dir, text)


def _pep508(text: str, location: str, base_dir: Path) -> tuple[Requirement, str | None, str | None]:
    """(requirement, path, url) of a PEP 508 requirement, ``name @ url`` included."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise error(
            f"invalid requirement {text!r}: {exc}",
            location,
            "use PEP 508 syntax: name[extra]>=1.0 ; marker",
        ) from None
    direct = requirement.url
    if direct is None:
        return requirement, None, None
    if direct.lower().startswith("file:"):
        return requirement, join_path(base_dir, file_url_path(direct, location)), None
    if not SCHEME_URL.match(direct):
        raise error(
            f"direct reference {requirement.name} @ {direct} is not a URL",
            location,
            "give a local project by its path alone, or as NAME @ file:///absolute/path",
        )
    return requirement, None, direct


def parse_requirement(
    text: str,
    location: str,
    base_dir: Path,
    *,
    editable: bool = False,
    hashes: tuple[str, ...] = (),
    constraint: bool = False,
) -> RequirementLine:
    """Classify and parse one requirement: a URL, a local path, or PEP 508."""
    text = text.strip()
    if not text:
        raise error("empty requirement", location)
    requirement: Requirement | None
    path: str | None
    url: str | None
    if SCHEME_URL.match(text) or text.lower().startswith("file:"):
        requirement, path, url = _bare_url(text, location, base_dir, editable)
    elif editable or (
        _NAMED.match(text) is None and _looks_like_path(text.split(";", 1)[0].strip())
    ):
        requirement, path, url = None, _local_path(text, location, base_dir), None
    else:
        requirement, path, url = _pep508(text, location, base_dir)
    return RequirementLine(
        requirement,
        location,
        editable=editable,
        path=path,
        url=url,
        hashes=hashes,
        constraint=constraint,
    )


def parse_cli_requirement(arg: str, *, cwd: Path, editable: bool = False) -> RequirementLine:
    """A requirement given on the command line: PEP 508, a local path, or a URL."""
    text = arg.strip()
    if text.startswith("-"):
        name, _value = split_option(text)
        shown = text.split("=", 1)[0] if text.startswith("--") else text[:2]
        refuse_if_listed(name, shown, CLI_LOCATION)
        raise error(f"option {shown} is not a requirement", CLI_LOCATION, "see spip --help")
    return parse_requirement(text, CLI_LOCATION, cwd, editable=editable)
