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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipx_secure.errors import RequirementFileError
from pipx_secure.model.reqline import (
    ALIASES,
    FLAG_OPTIONS,
    INCLUDE_OPTIONS,
    REFUSED_OPTIONS,
    SCHEME_URL,
    VALUED_OPTIONS,
    RequirementLine,
    RequirementSet,
    check_hash,
    error,
    file_url_path,
    join_path,
    merge,
    parse_cli_requirement,
    parse_requirement,
    refuse_if_listed,
    split_option,
)

__all__ = [
    "ALIASES",
    "REFUSED_OPTIONS",
    "RequirementLine",
    "RequirementSet",
    "merge",
    "parse_cli_requirement",
    "parse_requirement_files",
    "parse_requirement_text",
]

_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s)#.*$")
_PHYSICAL_LINES = re.compile(r"\r\n|\r|\n")
_OPTION_START = re.compile(r"\s+(?=--?[A-Za-z])")
_MAX_DEPTH = 32


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


# -- requirement files ----------------------------------------------------------------------


def _tokens(text: str, location: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise error(f"cannot split the line: {exc}", location) from None


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
                raise error(f"unexpected argument {token!r} on an option line", location)
            name, value = split_option(token)
            shown = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            refuse_if_listed(name, shown, location)
            if name == "--hash":
                raise error(
                    "--hash must follow a requirement on the same line",
                    location,
                    "write: name==1.0 --hash=sha256:<hex>",
                )
            known = name in INCLUDE_OPTIONS or name in VALUED_OPTIONS or name in FLAG_OPTIONS
            if not known and name != "--editable":
                raise error(
                    f"unsupported option {shown}",
                    location,
                    "requirement files may use -r, -c, -e, --hash, --pre, --only-binary, "
                    "--no-binary, --prefer-binary and --require-hashes",
                )
            if name in FLAG_OPTIONS:
                if value is not None:
                    raise error(f"option {shown} takes no value", location)
                self.options.append((name, None, location))
                continue
            if value is None and index < len(tokens):
                value = tokens[index]
                index += 1
            if not value:
                raise error(f"option {shown} needs a value", location)
            if name in VALUED_OPTIONS:
                self.options.append((name, value, location))
            elif name in INCLUDE_OPTIONS:
                self._include(
                    value, location, base_dir, constraint or name == "--constraint", stack
                )
            else:
                self._editable(value, location, base_dir, constraint)

    def _editable(self, value: str, location: str, base_dir: Path, constraint: bool) -> None:
        if constraint:
            raise error(
                f"editable requirement {value!r} is not allowed in a constraint file",
                location,
                "constraints can only narrow versions of named projects; list it in a "
                "requirement file",
            )
        self.requirements.append(parse_requirement(value, location, base_dir, editable=True))

    def _include(
        self,
        value: str,
        location: str,
        base_dir: Path,
        constraint: bool,
        stack: tuple[tuple[str, str], ...],
    ) -> None:
        if value.lower().startswith("file:"):
            value = file_url_path(value, location)
        elif SCHEME_URL.match(value):
            raise error(
                f"requirement files from URLs are not supported: {value}",
                location,
                "download the file, review it, and pass the local copy",
            )
        key = join_path(base_dir, value)
        parent_label = stack[-1][1] if stack else ""
        label = os.path.normpath(os.path.join(os.path.dirname(parent_label), value))
        chain = [shown for _key, shown in stack]
        if any(key == seen for seen, _shown in stack):
            raise error(
                "requirement files include each other: " + " -> ".join([*chain, label]),
                location,
                "remove one of the -r/-c lines",
            )
        if len(stack) >= _MAX_DEPTH:
            raise error(
                f"requirement files nested more than {_MAX_DEPTH} deep: "
                + " -> ".join([*chain, label]),
                location,
            )
        try:
            text = self.read(Path(key))
        except (OSError, ValueError) as exc:  # ValueError: undecodable text, NUL in the name
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise error(f"cannot read {label}: {reason}", location) from None
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
                raise error(f"unexpected text {token!r} after the requirement", location)
            name, value = split_option(token)
            shown = token.split("=", 1)[0] if token.startswith("--") else token[:2]
            refuse_if_listed(name, shown, location)
            if name != "--hash":
                raise error(
                    f"unsupported option {shown} after a requirement",
                    location,
                    "only --hash may follow a requirement on its line",
                )
            if value is None and index < len(tokens):
                value = tokens[index]
                index += 1
            if not value:
                raise error("--hash needs a value", location)
            digest = check_hash(value, location)
            if digest not in hashes:
                hashes.append(digest)
        parsed = parse_requirement(
            spec, location, base_dir, hashes=tuple(hashes), constraint=constraint
        )
        if not constraint:
            self.requirements.append(parsed)
            return
        if parsed.requirement is None:
            raise error(
                f"unnamed requirement {spec.strip()!r} is not allowed in a constraint file",
                location,
                "constraints can only narrow versions of named projects",
            )
        if parsed.url or parsed.path:
            raise error(
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
    key = join_path(base_dir, os.path.basename(origin) or origin)
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
