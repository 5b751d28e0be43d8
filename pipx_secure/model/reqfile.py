"""pip's requirement-file grammar, and requirement strings given on the command line.

Supported, following pip's documented format:

* comments (``#`` at the start of a line, or after whitespace) and blank lines;
* line continuations (a trailing ``\\``);
* ``${VAR}`` environment-variable expansion (upper-case letters, digits and ``_``; unset
  variables are left as they are);
* ``-r``/``--requirement`` and ``-c``/``--constraint`` (``-r file``, ``-r=file``,
  ``--requirement=file``), nested, relative to the including file, cycles reported with the
  whole chain.  A file included from a constraint file is read as constraints too: a constraint
  file can only narrow versions, never add a package;
* ``-e``/``--editable`` with a local path or a VCS URL;
* per-requirement ``--hash=algorithm:hex`` (several, also after a continuation);
* PEP 508 requirements with extras and markers (markers are kept, not evaluated), ``name @ url``,
  bare local paths and archives, and bare URLs (named by an ``#egg=`` fragment when present);
* the global options ``--pre``, ``--only-binary``, ``--no-binary``, ``--prefer-binary`` and
  ``--require-hashes``, returned in :attr:`RequirementSet.options`.

Options that would undo the source map (see :data:`REFUSED_OPTIONS`) are refused with
``file:line``; so is every other option, by name.  Every problem is a
:class:`~pipx_secure.errors.RequirementFileError`; URLs in messages are rendered through
:func:`~pipx_secure.model.redact.redact`.

:func:`parse_requirement_text` is pure given ``read`` and ``environ``;
:func:`parse_requirement_files` is the thin loader.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable
from urllib.parse import SplitResult, unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from pipx_secure.errors import RequirementFileError
from pipx_secure.model.redact import redact, redact_text

__all__ = [
    "REFUSED_OPTIONS",
    "RequirementLine",
    "RequirementSet",
    "merge",
    "parse_cli_requirement",
    "parse_requirement_files",
    "parse_requirement_text",
]

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
_ALIASES = {
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
            for short, long in _ALIASES.items()
            if long in _REFUSED
        },
    }
)
"""Options refused in requirement files and on the command line: why, and what to do instead."""

_INCLUDES = {"--requirement", "--constraint"}
_FLAGS = {"--pre", "--prefer-binary", "--require-hashes"}
_VALUED = {"--only-binary", "--no-binary"}
_TAKES_VALUE = {*_INCLUDES, *_VALUED, "--editable", "--hash", "--index-url", "--extra-index-url"}
_TAKES_VALUE |= {"--find-links", "--trusted-host"}
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s)#.*$")
_PHYSICAL_LINES = re.compile(r"\r\n|\r|\n")
_OPTION_START = re.compile(r"\s+(?=--?[A-Za-z])")
_SCHEME_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
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
_MAX_DEPTH = 32


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


def _error(message: str, location: str, hint: str | None = None) -> RequirementFileError:
    return RequirementFileError(
        _scrub(message), location=location, hint=_scrub(hint) if hint else None
    )


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Strip comments and join continuations: ``(first physical line number, content)``."""
    result: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 1
    for number, raw in enumerate(_PHYSICAL_LINES.split(text), 1):
        if not parts:
            start = number
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = " ".join(parts).strip()
        parts = []
        if joined:
            result.append((start, joined))
    joined = " ".join(parts).strip()
    if joined:
        result.append((start, joined))
    return result


def _expand(line: str, environ: Mapping[str, str]) -> str:
    return _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), line)


def _check_hash(value: str, location: str) -> str:
    algorithm, sep, digest = value.partition(":")
    algorithm = algorithm.lower()
    hint = "use --hash=sha256:<64 hex digits> (sha384 and sha512 are accepted too)"
    if not sep or algorithm not in _HASH_LENGTHS:
        shown = algorithm if sep else value
        raise _error(f"invalid --hash: unsupported algorithm {shown!r}", location, hint)
    if len(digest) != _HASH_LENGTHS[algorithm] or not _HEX.fullmatch(digest):
        raise _error(
            f"invalid --hash: a {algorithm} digest is {_HASH_LENGTHS[algorithm]} hex digits",
            location,
            hint,
        )
    return f"{algorithm}:{digest.lower()}"


def _split_option(token: str) -> tuple[str, str | None]:
    """``--name=value`` / ``-xvalue`` / ``-x=value`` -> (canonical name, value or None)."""
    if token.startswith("--"):
        name, sep, value = token.partition("=")
        return name, value if sep else None
    name, rest = token[:2], token[2:]
    if rest.startswith("="):
        rest = rest[1:]
    elif not rest:
        return _ALIASES.get(name, name), None
    return _ALIASES.get(name, name), rest


def _refuse_if_listed(name: str, shown: str, location: str) -> None:
    refused = name if name in _REFUSED else None
    if refused is None and name.startswith("--") and len(name) > 4:
        # pip accepts unambiguous abbreviations of long options (``--extra-index``).
        matches = [option for option in _REFUSED if option.startswith(name)]
        refused = matches[0] if len(matches) == 1 else None
    if refused is not None:
        why, instead = _REFUSED[refused]
        raise _error(f"option {shown} is refused: {why}", location, instead)


def _split_url(url: str, location: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise _error(f"invalid URL {url}: {exc}", location) from None


def _file_url_path(url: str, location: str) -> str:
    parts = _split_url(url, location)
    if parts.netloc not in ("", "localhost"):
        raise _error(f"file URL {url} names a remote host", location, "use a local path")
    return unquote(parts.path)


def _join(base_dir: Path, path: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))


def _named_bare_url(url: str, location: str) -> Requirement | None:
    egg = _EGG.search(_split_url(url, location).fragment)
    if egg is None:
        return None
    try:
        requirement = Requirement(egg.group(1))
    except InvalidRequirement:
        raise _error(f"invalid #egg= name {egg.group(1)!r} in {url}", location) from None
    if requirement.specifier or requirement.marker:
        raise _error(f"#egg= must be a project name, not {egg.group(1)!r}", location)
    requirement.url = url
    return requirement


def _looks_like_path(text: str) -> bool:
    if text.startswith((".", "/")) or os.sep in text or (os.altsep and os.altsep in text):
        return True
    return text.lower().endswith(_ARCHIVES)


def _parse_requirement(
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
        raise _error("empty requirement", location)

    def line(
        requirement: Requirement | None, *, path: str | None = None, url: str | None = None
    ) -> RequirementLine:
        return RequirementLine(
            requirement,
            location,
            editable=editable,
            path=path,
            url=url,
            hashes=hashes,
            constraint=constraint,
        )

    unnamed_hint = "name it: NAME @ URL ; marker (the path as a file:// URL)"
    if _SCHEME_URL.match(text) or text.lower().startswith("file:"):
        url, *after = text.split(None, 1)
        if after:
            raise _error(
                f"unexpected text after the URL {url}: {after[0]!r}", location, unnamed_hint
            )
        named = _named_bare_url(url, location)
        if url.lower().startswith("file:"):
            path = _file_url_path(url, location)
            return line(named, path=_join(base_dir, path))
        if editable and not url.lower().startswith(_VCS):
            raise _error(
                f"an editable URL must be a VCS URL (git+, hg+, svn+, bzr+), not {url}", location
            )
        return line(named, url=url)
    if editable or (_NAMED.match(text) is None and _looks_like_path(text.split(";", 1)[0].strip())):
        if ";" in text:
            raise _error(
                f"environment markers are not supported on a local path: {text!r}",
                location,
                unnamed_hint,
            )
        if _EXTRAS_SUFFIX.search(text):
            raise _error(
                f"extras are not supported on a local path: {text!r}",
                location,
                "install the project, and list the extra dependencies by name",
            )
        return line(None, path=_join(base_dir, text))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise _error(
            f"invalid requirement {text!r}: {exc}",
            location,
            "use PEP 508 syntax: name[extra]>=1.0 ; marker",
        ) from None
    direct = requirement.url
    if direct is None:
        return line(requirement)
    if direct.lower().startswith("file:"):
        return line(requirement, path=_join(base_dir, _file_url_path(direct, location)))
    if not _SCHEME_URL.match(direct):
        raise _error(
            f"direct reference {requirement.name} @ {direct} is not a URL",
            location,
            "give a local project by its path alone, or as NAME @ file:///absolute/path",
        )
    return line(requirement, url=direct)


# -- requirement files ----------------------------------------------------------------------


def _tokens(text: str, location: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise _error(f"cannot split the line: {exc}", location) from None


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@dataclass
class _Parser:
    """Mutable state of one top-level parse; nested files append to the same lists."""

    read: Callable[[Path], str]
    environ: Mapping[str, str]
    requirements: list[RequirementLine] = field(default_factory=list)
    constraints: list[RequirementLine] = field(default_factory=list)
    options: list[tuple[str, str | None, str]] = field(default_factory=list)

    def parse(
        self,
        text: str,
        *,
        label: str,
        base_dir: Path,
        constraint: bool,
        stack: tuple[tuple[str, str], ...],
    ) -> None:
        for number, content in _logical_lines(text.lstrip("\ufeff")):
            location = f"{label}:{number}"
            content = _expand(content, self.environ)
            if content.startswith("-"):
                self._option_line(_tokens(content, location), location, base_dir, constraint, stack)
            else:
                self._requirement_line(content, location, base_dir, constraint)

    def _option_line(
        self,
        tokens: list[str],
        location: str,
        base_dir: Path,
        constraint: bool,
        stack: tuple[tuple[str, str], ...],
    ) -> None:
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if not token.startswith("-") or token == "-":
                raise _error(f"unexpected argument {token!r} on an option line", location)
            name, value = _split_option(token)
            shown = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            _refuse_if_listed(name, shown, location)
            if name == "--hash":
                raise _error(
                    "--hash must follow a requirement on the same line",
                    location,
                    "write: name==1.0 --hash=sha256:<hex>",
                )
            known = name in _INCLUDES or name in _VALUED or name in _FLAGS
            if not known and name != "--editable":
                raise _error(
                    f"unsupported option {shown}",
                    location,
                    "requirement files may use -r, -c, -e, --hash, --pre, --only-binary, "
                    "--no-binary, --prefer-binary and --require-hashes",
                )
            if name in _FLAGS:
                if value is not None:
                    raise _error(f"option {shown} takes no value", location)
                self.options.append((name, None, location))
                continue
            if value is None and index < len(tokens):
                value = tokens[index]
                index += 1
            if not value:
                raise _error(f"option {shown} needs a value", location)
            if name in _VALUED:
                self.options.append((name, value, location))
            elif name in _INCLUDES:
                self._include(
                    value, location, base_dir, constraint or name == "--constraint", stack
                )
            else:
                self._editable(value, location, base_dir, constraint)

    def _editable(self, value: str, location: str, base_dir: Path, constraint: bool) -> None:
        if constraint:
            raise _error(
                f"editable requirement {value!r} is not allowed in a constraint file",
                location,
                "constraints can only narrow versions of named projects; list it in a "
                "requirement file",
            )
        self.requirements.append(_parse_requirement(value, location, base_dir, editable=True))

    def _include(
        self,
        value: str,
        location: str,
        base_dir: Path,
        constraint: bool,
        stack: tuple[tuple[str, str], ...],
    ) -> None:
        if value.lower().startswith("file:"):
            value = _file_url_path(value, location)
        elif _SCHEME_URL.match(value):
            raise _error(
                f"requirement files from URLs are not supported: {value}",
                location,
                "download the file, review it, and pass the local copy",
            )
        key = _join(base_dir, value)
        parent_label = stack[-1][1] if stack else ""
        label = os.path.normpath(os.path.join(os.path.dirname(parent_label), value))
        chain = [shown for _key, shown in stack]
        if any(key == seen for seen, _shown in stack):
            raise _error(
                "requirement files include each other: " + " -> ".join([*chain, label]),
                location,
                "remove one of the -r/-c lines",
            )
        if len(stack) >= _MAX_DEPTH:
            raise _error(
                f"requirement files nested more than {_MAX_DEPTH} deep: "
                + " -> ".join([*chain, label]),
                location,
            )
        try:
            text = self.read(Path(key))
        except (OSError, ValueError) as exc:  # ValueError: undecodable text, NUL in the name
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise _error(f"cannot read {label}: {reason}", location) from None
        self.parse(
            text,
            label=label,
            base_dir=Path(os.path.dirname(key) or "."),
            constraint=constraint,
            stack=(*stack, (key, label)),
        )

    def _requirement_line(
        self, content: str, location: str, base_dir: Path, constraint: bool
    ) -> None:
        spec, *rest = _OPTION_START.split(content, maxsplit=1)
        tokens = _tokens(rest[0], location) if rest else []
        hashes: list[str] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            index += 1
            if not token.startswith("-"):
                raise _error(f"unexpected text {token!r} after the requirement", location)
            name, value = _split_option(token)
            shown = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            _refuse_if_listed(name, shown, location)
            if name != "--hash":
                raise _error(
                    f"unsupported option {shown} after a requirement",
                    location,
                    "only --hash may follow a requirement on its line",
                )
            if value is None and index < len(tokens):
                value = tokens[index]
                index += 1
            if not value:
                raise _error("--hash needs a value", location)
            digest = _check_hash(value, location)
            if digest not in hashes:
                hashes.append(digest)
        parsed = _parse_requirement(
            spec, location, base_dir, hashes=tuple(hashes), constraint=constraint
        )
        if not constraint:
            self.requirements.append(parsed)
            return
        if parsed.requirement is None:
            raise _error(
                f"unnamed requirement {spec.strip()!r} is not allowed in a constraint file",
                location,
                "constraints can only narrow versions of named projects",
            )
        if parsed.url or parsed.path:
            raise _error(
                f"direct reference {parsed.requirement.name} @ ... is not allowed in a "
                "constraint file",
                location,
                "constraints can only narrow versions; put the direct reference in a "
                "requirement file",
            )
        self.constraints.append(parsed)


def parse_requirement_text(
    text: str,
    *,
    origin: str,
    base_dir: Path,
    constraint: bool = False,
    read: Callable[[Path], str] | None = None,
    environ: Mapping[str, str] | None = None,
    _stack: tuple[tuple[str, str], ...] = (),
) -> RequirementSet:
    """Parse the requirement-file ``text`` whose locations read ``origin:line``.

    ``base_dir`` is the directory nested files and local paths are relative to.  Nested files
    are read with ``read`` (default: UTF-8 from disk) and ``${VAR}`` looked up in ``environ``
    (default: ``os.environ``); given both, the function is pure.  ``constraint=True`` parses a
    constraint file.  Raises :class:`RequirementFileError` on any bad input.
    """
    parser = _Parser(read or _read, os.environ if environ is None else environ)
    key = _join(base_dir, os.path.basename(origin) or origin)
    parser.parse(
        text,
        label=origin,
        base_dir=base_dir,
        constraint=constraint,
        stack=(*_stack, (key, origin)),
    )
    return RequirementSet(
        tuple(parser.requirements), tuple(parser.constraints), tuple(parser.options)
    )


def parse_requirement_files(
    requirements: Sequence[Path], constraints: Sequence[Path] = ()
) -> RequirementSet:
    """Load the ``-r`` and ``-c`` files given on the command line, in order."""
    sets = []
    for path, is_constraint in [(p, False) for p in requirements] + [
        (p, True) for p in constraints
    ]:
        try:
            text = _read(path)
        except OSError as exc:
            raise RequirementFileError(
                f"cannot read requirement file: {exc.strerror or type(exc).__name__}",
                location=str(path),
            ) from None
        except ValueError:  # UnicodeDecodeError
            raise RequirementFileError("not a UTF-8 text file", location=str(path)) from None
        sets.append(
            parse_requirement_text(
                text, origin=str(path), base_dir=path.parent, constraint=is_constraint
            )
        )
    return merge(*sets)


def parse_cli_requirement(arg: str, *, cwd: Path, editable: bool = False) -> RequirementLine:
    """A requirement given on the command line: PEP 508, a local path, or a URL."""
    text = arg.strip()
    if text.startswith("-"):
        name, _value = _split_option(text)
        shown = text.split("=", 1)[0] if text.startswith("--") else text[:2]
        _refuse_if_listed(name, shown, CLI_LOCATION)
        raise _error(f"option {shown} is not a requirement", CLI_LOCATION, "see spip --help")
    return _parse_requirement(text, CLI_LOCATION, cwd, editable=editable)
