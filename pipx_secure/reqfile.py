"""pip's requirement-file grammar, and command-line requirement strings.

Supported: comments, line continuations, ``${VAR}`` expansion, ``-r``/``-c`` (nested, relative
to the including file, cycles detected), ``-e``, per-line ``--hash``, PEP 508 requirements with
extras and markers, ``name @ url``, bare local paths and URLs, and the global options ``--pre``,
``--only-binary``, ``--no-binary``, ``--prefer-binary``, ``--require-hashes``.  Options that
would undo the source map (``-i``, ``--index-url``, ``--extra-index-url``, ``--no-index``,
``-f``, ``--find-links``, ``--trusted-host``) are refused with ``file:line``; any other option
is refused by name.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from packaging.requirements import InvalidRequirement, Requirement

from pipx_secure.errors import RequirementFileError
from pipx_secure.redact import redact_text

REFUSED_OPTIONS: Mapping[str, str] = {
    "-i": "index options would undo the source map; route the package in spip.toml instead",
    "--index-url": "index options would undo the source map; set `default` in spip.toml",
    "--extra-index-url": "extra indexes enable dependency confusion; add the index to "
    "spip.toml [indexes] and route names to it under [packages]",
    "--no-index": "spip always installs offline from verified artifacts",
    "-f": "find-links bypass the source map; serve the files from an index in spip.toml",
    "--find-links": "find-links bypass the source map; serve the files from an index in spip.toml",
    "--trusted-host": "set a per-index `ca-bundle` in spip.toml instead",
}
_FLAGS = {"--pre", "--prefer-binary", "--require-hashes"}
_VALUED = {"--only-binary", "--no-binary"}
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_OPTION_START = re.compile(r"\s+(?=--?[A-Za-z])")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass(frozen=True)
class RequirementLine:
    """One requirement, from a file line or the command line."""

    requirement: Requirement | None
    location: str
    editable: bool = False
    path: str | None = None
    url: str | None = None
    hashes: tuple[str, ...] = ()
    constraint: bool = False


@dataclass(frozen=True)
class RequirementSet:
    """Requirements, constraints, and the global options found in files."""

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


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuations and strip comments; (first line number, content)."""
    result: list[tuple[int, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw
        if not buffer:
            start = number
        line = "" if re.match(r"^\s*#", line) else re.sub(r"(^|\s+)#.*$", "", line)
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            result.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        result.append((start, buffer.strip()))
    return result


def _expand(line: str, environ: Mapping[str, str]) -> str:
    return _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), line)


def _check_hash(value: str, location: str) -> str:
    algorithm, sep, digest = value.partition(":")
    algorithm = algorithm.lower()
    if not sep or algorithm not in _HASH_LENGTHS:
        raise RequirementFileError(
            f"invalid --hash {value!r}",
            location=location,
            hint="use --hash=sha256:<64 hex digits> (sha384 and sha512 also accepted)",
        )
    if len(digest) != _HASH_LENGTHS[algorithm] or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        raise RequirementFileError(f"invalid {algorithm} digest in --hash", location=location)
    return f"{algorithm}:{digest.lower()}"


def _option_name(token: str) -> str:
    if token.startswith("--"):
        return token.split("=", 1)[0]
    return token[:2]


def _looks_like_path(text: str) -> bool:
    return (
        text.startswith((".", "/", "~")) or os.sep in text or "/" in text or text.endswith(_ARCHIVE)
    )


def _parse_requirement(
    text: str,
    location: str,
    base_dir: Path,
    *,
    editable: bool,
    hashes: tuple[str, ...],
    constraint: bool,
) -> RequirementLine:
    text = text.strip()
    if _URL.match(text):
        if text.startswith("file://"):
            return RequirementLine(
                None,
                location,
                editable,
                path=text[len("file://") :],
                hashes=hashes,
                constraint=constraint,
            )
        return RequirementLine(
            None, location, editable, url=text, hashes=hashes, constraint=constraint
        )
    if editable or (_looks_like_path(text) and "@" not in text.split(";")[0]):
        path = Path(os.path.expanduser(text.split(";")[0].strip()))
        if not path.is_absolute():
            path = base_dir / path
        return RequirementLine(
            None, location, editable, path=str(path), hashes=hashes, constraint=constraint
        )
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise RequirementFileError(
            redact_text(f"invalid requirement {text!r}: {exc}"),
            location=location,
            hint="use PEP 508 syntax: name[extras]>=1.0; marker",
        ) from None
    url = requirement.url
    if url and url.startswith("file:"):
        return RequirementLine(
            requirement,
            location,
            editable,
            path=url.split("file://", 1)[-1],
            hashes=hashes,
            constraint=constraint,
        )
    return RequirementLine(
        requirement, location, editable, url=url, hashes=hashes, constraint=constraint
    )


def parse_requirement_text(
    text: str,
    *,
    origin: str,
    base_dir: Path,
    constraint: bool = False,
    read: Callable[[Path], str] | None = None,
    environ: Mapping[str, str] | None = None,
    _stack: tuple[str, ...] = (),
) -> RequirementSet:
    """Parse requirement-file ``text`` (pure given ``read`` for nested files)."""
    env = os.environ if environ is None else environ
    reader = read or _read
    requirements: list[RequirementLine] = []
    constraints: list[RequirementLine] = []
    options: list[tuple[str, str | None, str]] = []
    nested: list[RequirementSet] = []
    stack = (*_stack, origin)
    for number, line in _logical_lines(text):
        location = f"{origin}:{number}"
        line = _expand(line, env)
        if line.startswith("-"):
            try:
                tokens = shlex.split(line, posix=True)
            except ValueError as exc:
                raise RequirementFileError(f"cannot parse line: {exc}", location=location) from None
        else:
            # The requirement keeps its own quoting (markers); options follow it (--hash).
            requirement_part, *option_part = _OPTION_START.split(line, maxsplit=1)
            try:
                tokens = [requirement_part.strip(), *shlex.split(" ".join(option_part))]
            except ValueError as exc:
                raise RequirementFileError(f"cannot parse line: {exc}", location=location) from None
        if not tokens:
            continue
        first = tokens[0]
        if first.startswith("-"):
            name = _option_name(first)
            if name in REFUSED_OPTIONS or first in REFUSED_OPTIONS:
                raise RequirementFileError(
                    f"option {name} is refused by spip",
                    location=location,
                    hint=REFUSED_OPTIONS.get(name, REFUSED_OPTIONS.get(first, "")),
                )
            value: str | None
            if "=" in first and first.startswith("--"):
                value = first.split("=", 1)[1]
            elif len(first) > 2 and not first.startswith("--"):
                value = first[2:]
            else:
                value = tokens[1] if len(tokens) > 1 else None
            if name in ("-r", "--requirement", "-c", "--constraint"):
                if not value:
                    raise RequirementFileError(f"{name} needs a file name", location=location)
                path = Path(value)
                if not path.is_absolute():
                    path = base_dir / path
                key = str(path)
                if key in stack:
                    chain = " -> ".join((*stack, key))
                    raise RequirementFileError(
                        f"requirement files include each other: {chain}", location=location
                    )
                try:
                    nested_text = reader(path)
                except OSError as exc:
                    raise RequirementFileError(
                        f"cannot read {value}: {exc.strerror or exc}", location=location
                    ) from None
                nested.append(
                    parse_requirement_text(
                        nested_text,
                        origin=key,
                        base_dir=path.parent,
                        constraint=constraint or name in ("-c", "--constraint"),
                        read=reader,
                        environ=env,
                        _stack=stack,
                    )
                )
                continue
            if name in ("-e", "--editable"):
                if not value:
                    raise RequirementFileError("-e needs a path or URL", location=location)
                if constraint:
                    raise RequirementFileError(
                        "editable requirements are not allowed in constraint files",
                        location=location,
                    )
                requirements.append(
                    _parse_requirement(
                        value, location, base_dir, editable=True, hashes=(), constraint=False
                    )
                )
                continue
            if name in _FLAGS:
                options.append((name, None, location))
                continue
            if name in _VALUED:
                if not value:
                    raise RequirementFileError(f"{name} needs a value", location=location)
                options.append((name, value, location))
                continue
            raise RequirementFileError(
                f"unsupported option {name}",
                location=location,
                hint="spip accepts -r, -c, -e, --hash, --pre, --only-binary, --no-binary, "
                "--prefer-binary and --require-hashes in requirement files",
            )
        # A requirement, possibly followed by per-requirement options (--hash).
        spec_parts: list[str] = []
        hashes: list[str] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.startswith("--hash"):
                if token.startswith("--hash="):
                    hashes.append(_check_hash(token[len("--hash=") :], location))
                elif index + 1 < len(tokens):
                    index += 1
                    hashes.append(_check_hash(tokens[index], location))
                else:
                    raise RequirementFileError("--hash needs a value", location=location)
            elif token.startswith("-"):
                name = _option_name(token)
                if name in REFUSED_OPTIONS:
                    raise RequirementFileError(
                        f"option {name} is refused by spip",
                        location=location,
                        hint=REFUSED_OPTIONS[name],
                    )
                raise RequirementFileError(
                    f"unsupported option {name} after a requirement", location=location
                )
            else:
                spec_parts.append(token)
            index += 1
        spec = " ".join(spec_parts)
        if not spec:
            raise RequirementFileError("--hash without a requirement", location=location)
        parsed = _parse_requirement(
            spec, location, base_dir, editable=False, hashes=tuple(hashes), constraint=constraint
        )
        if constraint:
            if parsed.requirement is None or parsed.url:
                raise RequirementFileError(
                    "constraints must name a project (no paths or URLs)", location=location
                )
            constraints.append(parsed)
        else:
            requirements.append(parsed)
    own = RequirementSet(tuple(requirements), tuple(constraints), tuple(options))
    return merge(own, *nested) if nested else own


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def parse_requirement_files(
    requirements: Sequence[Path], constraints: Sequence[Path] = ()
) -> RequirementSet:
    """Load ``-r`` and ``-c`` files given on the command line."""
    sets = []
    for path, is_constraint in [(p, False) for p in requirements] + [
        (p, True) for p in constraints
    ]:
        try:
            text = _read(path)
        except OSError as exc:
            raise RequirementFileError(
                f"cannot read requirement file: {exc.strerror or exc}", location=str(path)
            ) from None
        except UnicodeDecodeError:
            raise RequirementFileError("not a UTF-8 text file", location=str(path)) from None
        sets.append(
            parse_requirement_text(
                text, origin=str(path), base_dir=path.parent, constraint=is_constraint
            )
        )
    return merge(*sets)


def parse_cli_requirement(arg: str, *, cwd: Path, editable: bool = False) -> RequirementLine:
    """A requirement given on the command line."""
    text = arg.strip()
    if text.startswith("-"):
        name = _option_name(text)
        raise RequirementFileError(
            f"option {name} is not a requirement",
            location="command line",
            hint=REFUSED_OPTIONS.get(name, "see spip install --help"),
        )
    return _parse_requirement(
        text, "command line", cwd, editable=editable, hashes=(), constraint=False
    )
