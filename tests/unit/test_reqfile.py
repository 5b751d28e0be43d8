"""pip's requirement-file grammar; index options refused with file:line."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipx_secure.errors import RequirementFileError
from pipx_secure.reqfile import (
    REFUSED_OPTIONS,
    parse_cli_requirement,
    parse_requirement_files,
    parse_requirement_text,
)

H = "a" * 64


def parse(text: str, tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return parse_requirement_text(text, origin="req.txt", base_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_comments_continuations_markers_extras_and_hashes(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "acme-core[fast,x] >= 1.0 ; python_version >= '3.8'  # trailing comment\n"
        "\n"
        f"six==1.16.0 \\\n    --hash=sha256:{H} \\\n    --hash sha256:{'b' * 64}\n"
        "pkg @ https://files.example/pkg-1.0.tar.gz#sha256=" + H + "\n"
    )
    parsed = parse(text, tmp_path)
    core, six, pkg = parsed.requirements
    assert core.requirement is not None and core.requirement.extras == {"fast", "x"}
    assert str(core.requirement.marker) == 'python_version >= "3.8"'
    assert core.location == "req.txt:2"
    assert six.hashes == (f"sha256:{H}", f"sha256:{'b' * 64}") and six.location == "req.txt:4"
    assert pkg.url is not None and pkg.url.endswith(H)


def test_nested_files_relative_to_their_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.txt").write_text("-c constraints.txt\nacme-utils\n")
    (tmp_path / "sub" / "constraints.txt").write_text("acme-core<2\n")
    top = tmp_path / "requirements.txt"
    top.write_text("-r sub/more.txt\n--requirement=sub/more.txt\n")
    parsed = parse_requirement_files([top])
    assert [r.requirement.name for r in parsed.requirements if r.requirement] == [
        "acme-utils",
        "acme-utils",
    ]
    assert [str(c.requirement) for c in parsed.constraints if c.requirement] == [
        "acme-core<2",
        "acme-core<2",
    ]
    assert parsed.constraints[0].location.endswith("constraints.txt:1")


@pytest.mark.parametrize("option", sorted(REFUSED_OPTIONS))
def test_index_options_are_refused_with_file_and_line(tmp_path: Path, option: str) -> None:
    value = "" if option == "--no-index" else " https://idx.example/simple"
    with pytest.raises(RequirementFileError) as info:
        parse(f"acme-core\n{option}{value}\n", tmp_path)
    assert info.value.exit_code == 2
    assert "req.txt:2" in info.value.render() and option in info.value.render()
    assert "hint" in info.value.render()


def test_refused_option_after_a_requirement(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse("acme-core --index-url https://idx.example/simple\n", tmp_path)
    assert "--index-url" in info.value.render()


def test_unknown_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse("--use-feature=fast-deps\n", tmp_path)
    assert "--use-feature" in info.value.render() and "req.txt:1" in info.value.render()


def test_global_options_are_collected(tmp_path: Path) -> None:
    parsed = parse("--pre\n--only-binary :all:\n--require-hashes\nsix\n", tmp_path)
    assert [o[0] for o in parsed.options] == ["--pre", "--only-binary", "--require-hashes"]
    assert parsed.options[1][1] == ":all:"


def test_cycles_are_reported_with_the_chain(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    with pytest.raises(RequirementFileError) as info:
        parse_requirement_files([tmp_path / "a.txt"])
    assert "include each other" in info.value.render()


def test_missing_nested_file(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse("-r nowhere.txt\n", tmp_path)
    assert "nowhere.txt" in info.value.render() and "req.txt:1" in info.value.render()


def test_constraint_files_refuse_editables_and_paths(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError):
        parse("-e ./proj\n", tmp_path, constraint=True)
    with pytest.raises(RequirementFileError):
        parse("./proj\n", tmp_path, constraint=True)


def test_environment_variables_are_expanded(tmp_path: Path) -> None:
    parsed = parse("acme-core==${VERSION}\n", tmp_path, environ={"VERSION": "1.1.0"})
    assert str(parsed.requirements[0].requirement) == "acme-core==1.1.0"
    with pytest.raises(RequirementFileError) as info:  # unset: left as is, as pip does
        parse("six${UNSET}\n", tmp_path, environ={})
    assert "${UNSET}" in info.value.render()


@pytest.mark.parametrize("bad", ["md5:" + "a" * 32, "sha256:xyz", "sha256:" + "a" * 10])
def test_bad_hashes(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RequirementFileError):
        parse(f"six --hash={bad}\n", tmp_path)


def test_malformed_requirement_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse("six\nacme-core >>= 1\n", tmp_path)
    assert "req.txt:2" in info.value.render()


def test_cli_forms(tmp_path: Path) -> None:
    assert parse_cli_requirement("ACME_Core>=1", cwd=tmp_path).requirement is not None
    local = parse_cli_requirement("./proj", cwd=tmp_path)
    assert local.path == str(tmp_path / "proj") and local.requirement is None
    wheel = parse_cli_requirement("dist/x-1.0-py3-none-any.whl", cwd=tmp_path)
    assert wheel.path is not None and wheel.path.endswith(".whl")
    editable = parse_cli_requirement(".", cwd=tmp_path, editable=True)
    assert editable.editable and editable.path is not None
    url = parse_cli_requirement("git+https://git.example/x.git", cwd=tmp_path)
    assert url.url == "git+https://git.example/x.git"
    with pytest.raises(RequirementFileError):
        parse_cli_requirement("--extra-index-url", cwd=tmp_path)


def test_secrets_in_urls_are_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(RequirementFileError) as info:
        parse("pkg @ https://u:hunter2pass@x.example/p.tar.gz >= 1\n", tmp_path)
    assert "hunter2pass" not in info.value.render()


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_text_gives_a_set_or_a_spip_error(text: str) -> None:
    with contextlib.suppress(RequirementFileError):
        parse_requirement_text(
            text, origin="fuzz.txt", base_dir=Path("/nonexistent"), read=lambda p: ""
        )
