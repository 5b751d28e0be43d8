"""pip's requirement-file grammar; index options refused with file:line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from pipx_secure.errors import RequirementFileError, SpipError
from pipx_secure.model.reqfile import (
    REFUSED_OPTIONS,
    RequirementLine,
    RequirementSet,
    merge,
    parse_cli_requirement,
    parse_requirement_files,
    parse_requirement_text,
)

H = "a" * 64
H2 = "B" * 64


def parse(
    text: str,
    base: Path,
    *,
    constraint: bool = False,
    environ: Mapping[str, str] | None = None,
) -> RequirementSet:
    return parse_requirement_text(
        text, origin="req.txt", base_dir=base, constraint=constraint, environ=environ or {}
    )


def fails(text: str, base: Path, **kw: bool) -> RequirementFileError:
    with pytest.raises(RequirementFileError) as info:
        parse(text, base, constraint=kw.get("constraint", False))
    assert info.value.exit_code == 2
    return info.value


def names(lines: tuple[RequirementLine, ...]) -> list[str]:
    return [line.requirement.name for line in lines if line.requirement is not None]


# -- comments, continuations, blank lines ---------------------------------------------------


def test_comments_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "# a full-line comment\n"
        "   # an indented comment\n"
        "\n"
        "six==1.16.0  # trailing comment\n"
        "\t\n"
        "pkg @ https://files.example/pkg-1.0.tar.gz#sha256=" + H + "\n"
    )
    parsed = parse(text, tmp_path)
    six, pkg = parsed.requirements
    assert str(six.requirement) == "six==1.16.0" and six.location == "req.txt:4"
    # ``#`` not preceded by whitespace is part of the URL (its fragment), not a comment.
    assert pkg.url == "https://files.example/pkg-1.0.tar.gz#sha256=" + H
    assert pkg.location == "req.txt:6"


def test_continuations_keep_the_first_line_number(tmp_path: Path) -> None:
    text = f"# header\nacme-core \\\n  [fast] \\\n  >=1.0\nsix \\\n    --hash=sha256:{H}\n"
    core, six = parse(text, tmp_path).requirements
    assert core.requirement is not None and core.requirement.extras == {"fast"}
    assert str(core.requirement.specifier) == ">=1.0" and core.location == "req.txt:2"
    assert six.hashes == (f"sha256:{H}",) and six.location == "req.txt:5"


def test_continuation_on_the_last_line_and_crlf_line_numbers(tmp_path: Path) -> None:
    parsed = parse("# c\r\n\r\nsix\r\nattrs \\", tmp_path)
    assert [line.location for line in parsed.requirements] == ["req.txt:3", "req.txt:4"]
    assert names(parsed.requirements) == ["six", "attrs"]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    assert names(parse("\ufeffsix\n", tmp_path).requirements) == ["six"]


# -- PEP 508, direct references, paths and URLs ---------------------------------------------


def test_extras_and_markers_are_kept_not_evaluated(tmp_path: Path) -> None:
    text = 'acme-core[fast,x] >= 1.0 ; sys_platform == "no-such-platform"\n'
    (line,) = parse(text, tmp_path).requirements
    assert line.requirement is not None
    assert line.requirement.extras == {"fast", "x"}
    assert str(line.requirement.marker) == 'sys_platform == "no-such-platform"'
    assert line.url is None and line.path is None and not line.editable and not line.hashes


def test_name_at_url(tmp_path: Path) -> None:
    (line,) = parse("acme-tool @ git+https://git.example/acme/tool.git@v1\n", tmp_path).requirements
    assert line.requirement is not None and line.requirement.name == "acme-tool"
    assert line.url == "git+https://git.example/acme/tool.git@v1" and line.path is None


def test_name_at_file_url_is_a_local_path(tmp_path: Path) -> None:
    target = tmp_path / "proj"
    (line,) = parse(f"acme-proj @ {target.as_uri()}\n", tmp_path).requirements
    assert line.requirement is not None and line.requirement.name == "acme-proj"
    assert line.path == str(target) and line.url is None


def test_name_at_a_relative_path_is_refused(tmp_path: Path) -> None:
    error = fails("acme-proj @ ./proj\n", tmp_path)
    assert "req.txt:1" in error.render() and "not a URL" in error.render()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("./pkg", "pkg"),
        ("pkg.whl", "pkg.whl"),
        ("acme-1.0-py3-none-any.whl", "acme-1.0-py3-none-any.whl"),
        ("some.tar.gz", "some.tar.gz"),
        ("Some.ZIP", "Some.ZIP"),
        (f"vendor{os.sep}acme", f"vendor{os.sep}acme"),
        ("sub/../other", "other"),
    ],
)
def test_bare_local_paths_resolve_against_the_file_directory(
    tmp_path: Path, text: str, expected: str
) -> None:
    (line,) = parse(text + "\n", tmp_path / "dir").requirements
    assert line.requirement is None and line.url is None
    assert line.path == str(tmp_path / "dir" / expected)


def test_absolute_path_and_file_url(tmp_path: Path) -> None:
    wheel = tmp_path / "dist" / "x-1.0-py3-none-any.whl"
    absolute, file_url = parse(f"{wheel}\n{wheel.as_uri()}\n", tmp_path / "else").requirements
    assert absolute.path == str(wheel) and file_url.path == str(wheel)
    assert file_url.url is None and file_url.requirement is None


def test_bare_urls(tmp_path: Path) -> None:
    text = (
        "https://files.example/acme-1.0-py3-none-any.whl\n"
        "git+https://git.example/acme/tool.git@main#egg=acme-tool\n"
    )
    wheel, vcs = parse(text, tmp_path).requirements
    assert wheel.url == "https://files.example/acme-1.0-py3-none-any.whl"
    assert wheel.requirement is None and wheel.path is None
    assert vcs.url == "git+https://git.example/acme/tool.git@main#egg=acme-tool"
    assert vcs.requirement is not None and vcs.requirement.name == "acme-tool"
    assert vcs.requirement.url == vcs.url


def test_bad_egg_fragment(tmp_path: Path) -> None:
    error = fails("git+https://git.example/x.git#egg=acme>=1\n", tmp_path)
    assert "#egg=" in error.render() and "req.txt:1" in error.render()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("./proj ; python_version < '3.10'", "markers are not supported on a local path"),
        ("./proj[dev]", "extras are not supported on a local path"),
        ("https://files.example/x.whl ; python_version < '3.10'", "unexpected text after"),
    ],
)
def test_unnamed_requirements_with_markers_or_extras(tmp_path: Path, text: str, words: str) -> None:
    error = fails(f"six\n{text}\n", tmp_path)
    assert words in error.render() and "req.txt:2" in error.render()


def test_malformed_requirement_carries_packaging_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequirement) as expected:
        Requirement("acme-core >>= 1")
    error = fails("six\nacme-core >>= 1\n", tmp_path)
    first_line = str(expected.value).splitlines()[0]
    assert error.render().startswith("req.txt:2: invalid requirement")
    assert first_line in error.render()
    assert isinstance(error, SpipError)


# -- environment variables ------------------------------------------------------------------


def test_environment_variables_are_expanded(tmp_path: Path) -> None:
    env = {"VERSION": "1.1.0", "EXTRA_2": "fast", "lower": "nope"}
    parsed = parse("acme-core[${EXTRA_2}]==${VERSION}\n", tmp_path, environ=env)
    assert str(parsed.requirements[0].requirement) == "acme-core[fast]==1.1.0"


def test_unset_and_non_posix_variables_are_left_as_is(tmp_path: Path) -> None:
    env = {"lower": "1.0", "VERSION": "1.0"}
    for text in ("six==${UNSET}\n", "six==${lower}\n", "six==$VERSION\n"):
        with pytest.raises(RequirementFileError) as info:
            parse(text, tmp_path, environ=env)
        assert text.strip()[len("six==") :] in info.value.render()


def test_environment_variable_in_a_nested_file_name(tmp_path: Path) -> None:
    (tmp_path / "prod.txt").write_text("six\n")
    parsed = parse("-r ${STAGE}.txt\n", tmp_path, environ={"STAGE": "prod"})
    assert names(parsed.requirements) == ["six"]
    assert parsed.requirements[0].location == "prod.txt:1"


def test_default_environment_is_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIP_TEST_VERSION", "2.0")
    parsed = parse_requirement_text("six==${SPIP_TEST_VERSION}", origin="r", base_dir=tmp_path)
    assert str(parsed.requirements[0].requirement) == "six==2.0"


# -- nested files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "include",
    ["-r sub/more.txt", "-r=sub/more.txt", "-rsub/more.txt", "--requirement=sub/more.txt"],
)
def test_requirement_include_forms(tmp_path: Path, include: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.txt").write_text("acme-utils\n")
    parsed = parse(f"six\n{include}\nattrs\n", tmp_path)
    assert names(parsed.requirements) == ["six", "acme-utils", "attrs"]  # file order kept
    assert parsed.requirements[1].location == "sub/more.txt:1"
    assert not parsed.constraints


@pytest.mark.parametrize(
    "include", ["-c sub/c.txt", "-c=sub/c.txt", "--constraint sub/c.txt", "--constraint=sub/c.txt"]
)
def test_constraint_include_forms(tmp_path: Path, include: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("acme-core<2\n")
    parsed = parse(f"{include}\nacme-core\n", tmp_path)
    assert [str(c.requirement) for c in parsed.constraints] == ["acme-core<2"]
    assert parsed.constraints[0].constraint and parsed.constraints[0].location == "sub/c.txt:1"
    assert names(parsed.requirements) == ["acme-core"]
    assert not parsed.requirements[0].constraint


def test_nested_paths_are_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("-r b/two.txt\n./local-proj\n")
    (tmp_path / "a" / "b" / "two.txt").write_text("# two\n-c ../c.txt\n../../vendored\n")
    (tmp_path / "a" / "c.txt").write_text("six<2\n")
    parsed = parse_requirement_files([tmp_path / "a" / "one.txt"])
    vendored, local = parsed.requirements
    assert vendored.path == str(tmp_path / "vendored")
    assert vendored.location == f"{tmp_path / 'a' / 'b' / 'two.txt'}:3"
    assert local.path == str(tmp_path / "a" / "local-proj")
    assert parsed.constraints[0].location == f"{tmp_path / 'a' / 'c.txt'}:1"


def test_relative_file_names_stay_relative_in_locations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reqs" / "sub").mkdir(parents=True)
    (tmp_path / "reqs" / "main.txt").write_text("six\n-r sub/x.txt\n")
    (tmp_path / "reqs" / "sub" / "x.txt").write_text("attrs\n")
    parsed = parse_requirement_files([Path("reqs/main.txt")])
    assert [line.location for line in parsed.requirements] == [
        "reqs/main.txt:1",
        os.path.join("reqs", "sub", "x.txt") + ":1",
    ]


def test_requirement_included_from_a_constraint_file_is_a_constraint(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("-r more.txt\n")
    (tmp_path / "more.txt").write_text("six<2\n")
    parsed = parse("-c c.txt\n", tmp_path)
    assert not parsed.requirements and names(parsed.constraints) == ["six"]


def test_several_options_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("six\n")
    (tmp_path / "c.txt").write_text("six<2\n")
    parsed = parse("-r a.txt -c c.txt --pre\n", tmp_path)
    assert names(parsed.requirements) == ["six"] and names(parsed.constraints) == ["six"]
    assert parsed.options == (("--pre", None, "req.txt:1"),)


def test_cycles_are_reported_with_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("six\n-r b.txt\n")
    (tmp_path / "b.txt").write_text("\n-c ./a.txt\n")
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_files([tmp_path / "a.txt"])
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    assert info.value.exit_code == 2
    assert info.value.location == f"{b}:2"
    assert f"include each other: {a} -> {b} -> {a}" in info.value.render()


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("-r req.txt\n")
    error = fails("-r req.txt\n", tmp_path)
    assert "req.txt -> req.txt" in error.render()


def test_runaway_nesting_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_text(
            "-r d/r.txt\n", origin="r.txt", base_dir=tmp_path, read=lambda _p: "-r d/r.txt\n"
        )
    assert "nested more than" in info.value.render()


def test_missing_nested_file(tmp_path: Path) -> None:
    error = fails("six\n-r nowhere.txt\n", tmp_path)
    assert error.location == "req.txt:2"
    assert "cannot read nowhere.txt" in error.render()


def test_undecodable_nested_file(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00garbage")
    error = fails("-r bin.txt\n", tmp_path)
    assert "cannot read bin.txt" in error.render() and "req.txt:1" in error.render()


def test_nested_file_is_read_through_the_given_reader(tmp_path: Path) -> None:
    seen: list[Path] = []

    def read(path: Path) -> str:
        seen.append(path)
        return "acme-core\n"

    parsed = parse_requirement_text("-r x/y.txt", origin="r.txt", base_dir=tmp_path, read=read)
    assert seen == [tmp_path / "x" / "y.txt"] and names(parsed.requirements) == ["acme-core"]


def test_remote_requirement_files_are_refused_without_secrets(tmp_path: Path) -> None:
    error = fails("-r https://bob:hunter2pass@idx.example/req.txt\n", tmp_path)
    assert "URLs are not supported" in error.render() and "req.txt:1" in error.render()
    assert "hunter2pass" not in error.render() and "bob" in error.render()


def test_include_without_a_file_name(tmp_path: Path) -> None:
    assert "needs a value" in fails("-r\n", tmp_path).render()
    assert "needs a value" in fails("--constraint=\n", tmp_path).render()


# -- editables ------------------------------------------------------------------------------


def test_editables(tmp_path: Path) -> None:
    text = "-e ./proj\n--editable=../other\n-e git+https://git.example/x.git#egg=acme-x\n"
    proj, other, vcs = parse(text, tmp_path / "d").requirements
    assert proj.editable and proj.path == str(tmp_path / "d" / "proj")
    assert proj.requirement is None and proj.url is None
    assert other.editable and other.path == str(tmp_path / "other")
    assert vcs.editable and vcs.url == "git+https://git.example/x.git#egg=acme-x"
    assert vcs.requirement is not None and vcs.requirement.name == "acme-x"


def test_editable_url_must_be_vcs(tmp_path: Path) -> None:
    error = fails("-e https://files.example/x.tar.gz\n", tmp_path)
    assert "VCS" in error.render() and "req.txt:1" in error.render()


def test_editable_needs_a_value(tmp_path: Path) -> None:
    assert "needs a value" in fails("-e\n", tmp_path).render()


# -- constraint files -----------------------------------------------------------------------


def test_constraint_file_lines(tmp_path: Path) -> None:
    text = f"acme-core>=1,<2 ; python_version >= '3.9'\nsix==1.16 --hash=sha256:{H}\n"
    parsed = parse(text, tmp_path, constraint=True)
    assert not parsed.requirements and names(parsed.constraints) == ["acme-core", "six"]
    assert all(c.constraint for c in parsed.constraints)
    assert parsed.constraints[1].hashes == (f"sha256:{H}",)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("-e ./proj", "editable requirement"),
        ("--editable=git+https://git.example/x.git", "editable requirement"),
        ("./proj", "unnamed requirement"),
        ("dist/x-1.0-py3-none-any.whl", "unnamed requirement"),
        ("https://files.example/x-1.0.tar.gz", "unnamed requirement"),
        ("acme @ https://files.example/acme-1.0.tar.gz", "direct reference"),
    ],
)
def test_constraint_files_refuse_editables_and_unnamed(
    tmp_path: Path, text: str, words: str
) -> None:
    error = fails(f"six\n{text}\n", tmp_path, constraint=True)
    assert words in error.render() and "constraint file" in error.render()
    assert error.location == "req.txt:2"


# -- hashes ---------------------------------------------------------------------------------


def test_several_hashes_in_both_forms_normalized(tmp_path: Path) -> None:
    text = f"six==1.16.0 --hash=sha256:{H} \\\n  --hash sha512:{'c' * 128} --hash=SHA256:{H2}\n"
    (line,) = parse(text, tmp_path).requirements
    assert line.hashes == (f"sha256:{H}", f"sha512:{'c' * 128}", f"sha256:{H2.lower()}")


def test_repeated_hash_is_kept_once(tmp_path: Path) -> None:
    (line,) = parse(f"six --hash=sha256:{H} --hash=sha256:{H}\n", tmp_path).requirements
    assert line.hashes == (f"sha256:{H}",)


@pytest.mark.parametrize(
    "bad",
    [
        "md5:" + "a" * 32,
        "sha1:" + "a" * 40,
        "sha256:" + "g" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "sha256=" + "a" * 64,
        "a" * 64,
    ],
)
def test_bad_hashes(tmp_path: Path, bad: str) -> None:
    error = fails(f"six\nsix --hash={bad}\n", tmp_path)
    assert "invalid --hash" in error.render() and error.location == "req.txt:2"
    assert "sha256:<64 hex digits>" in error.render()


def test_hash_without_a_requirement_or_value(tmp_path: Path) -> None:
    assert "must follow a requirement" in fails(f"--hash=sha256:{H}\n", tmp_path).render()
    assert "--hash needs a value" in fails("six --hash\n", tmp_path).render()


def test_stray_text_after_hash(tmp_path: Path) -> None:
    error = fails(f"six --hash=sha256:{H} attrs\n", tmp_path)
    assert "unexpected text 'attrs'" in error.render()


# -- global options -------------------------------------------------------------------------


def test_global_options_are_collected(tmp_path: Path) -> None:
    text = (
        "--pre\n--only-binary :all:\n--no-binary=acme-core,six\n--prefer-binary\n"
        "--require-hashes\nsix\n"
    )
    parsed = parse(text, tmp_path)
    assert parsed.options == (
        ("--pre", None, "req.txt:1"),
        ("--only-binary", ":all:", "req.txt:2"),
        ("--no-binary", "acme-core,six", "req.txt:3"),
        ("--prefer-binary", None, "req.txt:4"),
        ("--require-hashes", None, "req.txt:5"),
    )
    assert names(parsed.requirements) == ["six"]


def test_nested_options_carry_their_own_location(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("\n--pre\n")
    assert parse("-r n.txt\n", tmp_path).options == (("--pre", None, "n.txt:2"),)


def test_global_option_value_errors(tmp_path: Path) -> None:
    assert "takes no value" in fails("--pre=yes\n", tmp_path).render()
    assert "needs a value" in fails("--only-binary\n", tmp_path).render()


def test_global_option_after_a_requirement_is_refused(tmp_path: Path) -> None:
    error = fails("six --pre\n", tmp_path)
    assert "unsupported option --pre after a requirement" in error.render()


# -- refused and unknown options ------------------------------------------------------------


def test_refused_options_table() -> None:
    assert set(REFUSED_OPTIONS) == {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--trusted-host",
    }
    assert all("spip.toml [packages]" in why for why in REFUSED_OPTIONS.values())


def _refused_forms(option: str) -> list[str]:
    if option == "--no-index":
        return ["--no-index"]
    value = "https://idx.example/simple/"
    forms = [f"{option} {value}", f"{option}={value}"]
    if not option.startswith("--"):
        forms.append(f"{option}{value}")
    return forms


@pytest.mark.parametrize(
    "line", [form for option in sorted(REFUSED_OPTIONS) for form in _refused_forms(option)]
)
def test_refused_options_name_file_line_and_a_way_out(tmp_path: Path, line: str) -> None:
    option = line.split("=", 1)[0].split(" ", 1)[0][: 2 if line[1] != "-" else None]
    error = fails(f"acme-core\n\n{line}\n", tmp_path)
    rendered = error.render()
    assert error.location == "req.txt:3"
    assert rendered.startswith(f"req.txt:3: option {option} is refused: ")
    assert "(hint: " in rendered and "source map (spip.toml [packages]) instead" in rendered
    assert "\n" not in rendered


@pytest.mark.parametrize("option", sorted(REFUSED_OPTIONS))
def test_refused_options_after_a_requirement(tmp_path: Path, option: str) -> None:
    value = "" if option == "--no-index" else " https://idx.example/simple/"
    error = fails(f"acme-core {option}{value}\n", tmp_path)
    assert error.location == "req.txt:1" and f"option {option} is refused" in error.render()


@pytest.mark.parametrize("option", sorted(REFUSED_OPTIONS))
def test_refused_options_in_nested_files(tmp_path: Path, option: str) -> None:
    value = "" if option == "--no-index" else " https://idx.example/simple/"
    (tmp_path / "inner.txt").write_text(f"six\n{option}{value}\n")
    error = fails("-r inner.txt\n", tmp_path)
    assert error.location == "inner.txt:2" and option in error.render()


def test_abbreviated_refused_option_is_still_refused(tmp_path: Path) -> None:
    error = fails("--extra-index https://idx.example/simple/\n", tmp_path)
    assert "option --extra-index is refused" in error.render()


def test_refused_option_message_hides_url_passwords(tmp_path: Path) -> None:
    error = fails("--index-url https://bob:hunter2pass@idx.example/simple/\n", tmp_path)
    assert "hunter2pass" not in error.render()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("--use-feature=fast-deps", "--use-feature"),
        ("--use-feature fast-deps", "--use-feature"),
        ("-Z", "-Z"),
        ("--global-option=x", "--global-option"),
        ("--no-deps", "--no-deps"),
    ],
)
def test_unknown_options_are_named(tmp_path: Path, text: str, shown: str) -> None:
    error = fails(f"six\n{text}\n", tmp_path)
    assert error.render().startswith(f"req.txt:2: unsupported option {shown}")


def test_unknown_option_after_a_requirement(tmp_path: Path) -> None:
    error = fails("six --config-settings=x=1\n", tmp_path)
    assert "unsupported option --config-settings" in error.render()


def test_unbalanced_quotes_in_options(tmp_path: Path) -> None:
    error = fails('-r "unterminated\n', tmp_path)
    assert "req.txt:1" in error.render() and "cannot split" in error.render()


def test_stray_word_on_an_option_line(tmp_path: Path) -> None:
    assert "unexpected argument 'six'" in fails("--pre six\n", tmp_path).render()


# -- secrets --------------------------------------------------------------------------------


def test_secrets_in_urls_are_not_echoed(tmp_path: Path) -> None:
    for text in (
        "pkg @ https://u:hunter2pass@x.example/p.tar.gz >= 1\n",
        "https://u:hunter2pass@x.example/p.whl trailing\n",
        "pkg @ https://x.example/p.whl?token=hunter2pass extra\n",
    ):
        error = fails(text, tmp_path)
        assert "hunter2pass" not in error.render(), text
        assert "req.txt:1" in error.render()


# -- loading from disk ----------------------------------------------------------------------


def test_parse_requirement_files_reads_requirements_then_constraints(tmp_path: Path) -> None:
    (tmp_path / "r1.txt").write_text("six\n")
    (tmp_path / "r2.txt").write_text("attrs\n--pre\n")
    (tmp_path / "c.txt").write_text("six<2\n")
    parsed = parse_requirement_files(
        [tmp_path / "r1.txt", tmp_path / "r2.txt"], [tmp_path / "c.txt"]
    )
    assert names(parsed.requirements) == ["six", "attrs"]
    assert names(parsed.constraints) == ["six"] and parsed.constraints[0].constraint
    assert parsed.options == (("--pre", None, f"{tmp_path / 'r2.txt'}:2"),)


def test_constraint_file_given_on_the_command_line_follows_constraint_rules(
    tmp_path: Path,
) -> None:
    (tmp_path / "c.txt").write_text("-e ./proj\n")
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_files([], [tmp_path / "c.txt"])
    assert info.value.location == f"{tmp_path / 'c.txt'}:1"


def test_unreadable_top_level_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_files([missing])
    assert info.value.location == str(missing) and str(missing) in info.value.render()
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_files([tmp_path / "bin.txt"])
    assert "UTF-8" in info.value.render()
    with pytest.raises(RequirementFileError):
        parse_requirement_files([tmp_path])  # a directory


# -- command line ---------------------------------------------------------------------------


def test_cli_named_requirement(tmp_path: Path) -> None:
    line = parse_cli_requirement(" ACME_Core[fast]>=1 ; python_version >= '3.9' ", cwd=tmp_path)
    assert line.requirement is not None and line.requirement.name == "ACME_Core"
    assert line.requirement.extras == {"fast"} and line.requirement.marker is not None
    assert line.location == "command line" and line.path is None and line.url is None


def test_cli_paths_resolve_against_cwd(tmp_path: Path) -> None:
    assert parse_cli_requirement("./proj", cwd=tmp_path).path == str(tmp_path / "proj")
    wheel = parse_cli_requirement("dist/x-1.0-py3-none-any.whl", cwd=tmp_path)
    assert wheel.path == str(tmp_path / "dist" / "x-1.0-py3-none-any.whl")
    assert wheel.requirement is None
    sdist = parse_cli_requirement("x-1.0.tar.gz", cwd=tmp_path)
    assert sdist.path == str(tmp_path / "x-1.0.tar.gz")
    editable = parse_cli_requirement(".", cwd=tmp_path, editable=True)
    assert editable.editable and editable.path == str(tmp_path)
    named_editable = parse_cli_requirement("proj", cwd=tmp_path, editable=True)
    assert named_editable.path == str(tmp_path / "proj") and named_editable.requirement is None


def test_cli_urls(tmp_path: Path) -> None:
    url = parse_cli_requirement("git+https://git.example/x.git", cwd=tmp_path)
    assert url.url == "git+https://git.example/x.git" and url.requirement is None
    named = parse_cli_requirement("acme @ https://files.example/acme-1.0.tar.gz", cwd=tmp_path)
    assert named.url == "https://files.example/acme-1.0.tar.gz"
    assert named.requirement is not None and named.requirement.name == "acme"
    editable = parse_cli_requirement("git+ssh://git@git.example/x.git", cwd=tmp_path, editable=True)
    assert editable.editable and editable.url == "git+ssh://git@git.example/x.git"


@pytest.mark.parametrize(
    ("arg", "words"),
    [
        ("--extra-index-url=https://idx.example/simple/", "option --extra-index-url is refused"),
        ("-ihttps://idx.example/simple/", "option -i is refused"),
        ("--user", "option --user is not a requirement"),
        ("acme >>= 1", "invalid requirement"),
        ("", "empty requirement"),
        ("https://u:hunter2pass@files.example/x.whl junk", "unexpected text"),
    ],
)
def test_cli_errors(tmp_path: Path, arg: str, words: str) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse_cli_requirement(arg, cwd=tmp_path)
    rendered = info.value.render()
    assert rendered.startswith("command line: ") and words in rendered
    assert "hunter2pass" not in rendered and info.value.exit_code == 2


# -- merge ----------------------------------------------------------------------------------


def test_merge_concatenates_in_order(tmp_path: Path) -> None:
    first = parse("six\n--pre\n", tmp_path)
    second = parse("attrs\n", tmp_path, constraint=True)
    merged = merge(first, second, RequirementSet())
    assert names(merged.requirements) == ["six"] and names(merged.constraints) == ["attrs"]
    assert merged.options == (("--pre", None, "req.txt:2"),)
    assert merge() == RequirementSet((), (), ())


# -- properties -----------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "six",
        "acme-core[x]>=1 ; python_version >= '3.9'",
        "pkg @ https://u:p@files.example/p.whl",
        "git+https://git.example/x.git#egg=x",
        "./proj",
        "x.whl",
        "file:///tmp/x",
        "-r",
        "-c",
        "-e",
        "--hash",
        f"--hash=sha256:{H}",
        "--pre",
        "--only-binary",
        "-i",
        "--no-index",
        "--use-feature",
        "-Z",
        "${VAR}",
        "${",
        "#",
        " # c",
        "\\",
        "\\\n",
        "\n",
        "\r",
        "'",
        '"',
        "=",
        ";",
        "@",
        "[",
        "]",
        " ",
        "\t",
        "\x00",
        "\ufeff",
        "other.txt",
        "req.txt",
        "https://",
        "file:",
        "file://[",
    ]
)


def _read_fake(path: Path) -> str:
    if path.name == "req.txt":
        return "-r req.txt\n"
    if "\x00" in str(path):
        raise ValueError("embedded null byte")
    if path.name.startswith("missing"):
        raise FileNotFoundError(2, "No such file or directory")
    return "six\n--pre\n"


def _parses_or_raises_spip_error(text: str, constraint: bool) -> None:
    try:
        result = parse_requirement_text(
            text,
            origin="req.txt",
            base_dir=Path("/nonexistent"),
            constraint=constraint,
            read=_read_fake,
            environ={"VAR": "1.0"},
        )
    except RequirementFileError as exc:
        assert exc.exit_code == 2 and exc.render()
        return
    assert isinstance(result, RequirementSet)
    for line in result.requirements + result.constraints:
        assert line.requirement is not None or line.path is not None or line.url is not None
        assert re.fullmatch(r".+:[1-9][0-9]*", line.location, re.DOTALL), line.location


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_arbitrary_text_gives_a_set_or_a_spip_error(text: str, constraint: bool) -> None:
    _parses_or_raises_spip_error(text, constraint)


@settings(max_examples=500, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=14).map("".join), st.booleans())
def test_grammar_like_text_gives_a_set_or_a_spip_error(text: str, constraint: bool) -> None:
    _parses_or_raises_spip_error(text, constraint)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(_FRAGMENTS, max_size=8).map("".join)), st.booleans())
def test_cli_arbitrary_text_gives_a_line_or_a_spip_error(text: str, editable: bool) -> None:
    try:
        line = parse_cli_requirement(text, cwd=Path("/nonexistent"), editable=editable)
    except RequirementFileError as exc:
        assert exc.location == "command line"
        return
    assert line.location == "command line" and line.editable is editable
