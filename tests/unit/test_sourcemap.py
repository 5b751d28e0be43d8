"""The source map: routing, precedence, and load-time errors that name file and key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipx_secure.config.mapfile import load_source_map
from pipx_secure.errors import PolicyError, SourceMapError
from pipx_secure.model.maptoml import parse_source_map
from pipx_secure.model.sourcemap import RuleKind

BASE = {
    "default": "public",
    "indexes": {
        "public": {"url": "https://public.example/simple"},
        "private": {"url": "https://private.example/simple/", "username": "ci"},
    },
}


def make(packages: dict[str, str], **extra: object) -> object:
    data = dict(BASE, packages=packages, **extra)
    return parse_source_map(data, origin="spip.toml")


def no_pip() -> tuple[str, tuple[str, ...]]:
    raise AssertionError("pip's default must not be consulted when the map names one")


@pytest.mark.parametrize(
    "spelling", ["acme-core", "ACME_Core", "acme.core", "Acme-Core", "acme__core"]
)
def test_every_spelling_routes_to_the_same_index(spelling: str) -> None:
    source_map = make({"acme-*": "private"})
    route = source_map.index_for(spelling)
    assert route.index.name == "private"
    assert route.name == "acme-core"
    assert route.kind is RuleKind.PATTERN


def test_exact_rule_beats_pattern() -> None:
    source_map = make({"acme-*": "private", "acme-public-tool": "public"})
    assert source_map.index_for("acme_public_tool").index.name == "public"
    assert source_map.index_for("acme-public-tool").kind is RuleKind.EXACT
    assert source_map.index_for("acme-other").index.name == "private"


def test_more_specific_pattern_wins() -> None:
    source_map = make({"acme-*": "private", "acme-oss-*": "public"})
    assert source_map.index_for("acme-oss-lib").index.name == "public"
    assert source_map.index_for("acme-lib").index.name == "private"


def test_unmatched_names_use_the_default() -> None:
    source_map = make({"acme-*": "private"})
    route = source_map.index_for("Flask")
    assert route.index.name == "public"
    assert route.kind is RuleKind.DEFAULT
    assert "default" in route.explain()


def test_equally_specific_patterns_that_disagree_name_both() -> None:
    source_map = make({"acme-*": "private", "*-core": "public"})
    with pytest.raises(SourceMapError) as info:
        source_map.index_for("acme-core")
    message = info.value.render()
    assert "acme-*" in message and "*-core" in message


def test_same_name_spelled_twice_disagreeing_is_a_load_error() -> None:
    with pytest.raises(SourceMapError) as info:
        make({"acme-core": "private", "ACME_Core": "public"})
    assert "acme-core" in info.value.render() and "ACME_Core" in info.value.render()
    assert info.value.exit_code == 2


def test_unknown_index_in_rule_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "spip.toml"
    path.write_text(
        'default = "public"\n[indexes.public]\nurl = "https://p.example/simple"\n'
        '[packages]\n"acme-*" = "privte"\n'
    )
    with pytest.raises(SourceMapError) as info:
        load_source_map(path)
    message = info.value.render()
    assert f"{path}:5" in message
    assert "privte" in message and "acme-*" in message


def test_password_in_url_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "spip.toml"
    path.write_text('[indexes.p]\nurl = "https://bob:hunter2secret@p.example/simple"\n')
    with pytest.raises(SourceMapError) as info:
        load_source_map(path)
    message = info.value.render()
    assert "hunter2secret" not in message
    assert "password" in message and f"{path}:2" in message


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "spip.toml"
    path.write_text("[indexes\n")
    with pytest.raises(SourceMapError) as info:
        load_source_map(path)
    assert str(path) in info.value.render()
    assert "TOML" in info.value.render()


def test_unknown_top_level_key_is_refused() -> None:
    with pytest.raises(SourceMapError) as info:
        parse_source_map({"defualt": "x"}, origin="spip.toml")
    assert "defualt" in info.value.render()


def test_strict_map_refuses_unmatched_names() -> None:
    source_map = parse_source_map(
        {"strict": True, "indexes": BASE["indexes"], "packages": {"acme-*": "private"}},
        origin="spip.toml",
        pip_default=no_pip,
    )
    assert source_map.index_for("acme-x").index.name == "private"
    with pytest.raises(PolicyError) as info:
        source_map.index_for("requests")
    assert "requests" in info.value.render() and "strict" in info.value.render()
    assert info.value.exit_code == 3


def test_without_default_pip_index_is_used_and_extras_reported() -> None:
    def pip_default() -> tuple[str, tuple[str, ...]]:
        return "https://mirror.example/simple", ("extra-index-url",)

    source_map = parse_source_map(
        {"indexes": {"private": BASE["indexes"]["private"]}, "packages": {"acme-*": "private"}},
        origin="spip.toml",
        pip_default=pip_default,
    )
    route = source_map.index_for("six")
    assert route.index.url == "https://mirror.example/simple/"
    assert len(source_map.notes) == 1 and "extra-index-url" in source_map.notes[0]


def test_pyproject_tool_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.spip]\ndefault = "pub"\n[tool.spip.indexes.pub]\n'
        'url = "https://p.example/simple"\n[tool.spip.packages]\n"acme-*" = "nope"\n'
    )
    with pytest.raises(SourceMapError) as info:
        load_source_map(cwd=tmp_path)
    assert "tool.spip.packages" in info.value.render()
    assert "pyproject.toml:8" in info.value.render()


def test_spip_toml_is_found_upward(tmp_path: Path) -> None:
    (tmp_path / "spip.toml").write_text(
        'default = "pub"\n[indexes.pub]\nurl = "https://p.example/simple"\n'
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert load_source_map(cwd=nested).index_for("x").index.name == "pub"


def test_large_map_loads_and_routes_fast() -> None:
    packages = {f"team{i}-*": "private" for i in range(5000)}
    packages.update({f"exact-name-{i}": "private" for i in range(5000)})
    started = time.perf_counter()
    source_map = make(packages)
    for i in range(0, 5000, 50):
        assert source_map.index_for(f"team{i}-lib").index.name == "private"
        assert source_map.index_for(f"exact_name_{i}").index.name == "private"
    assert source_map.index_for("unrelated").index.name == "public"
    # Timing is reported by the benchmarks, not asserted here; check the structure instead.
    assert len(source_map.rules) == 10000
    del started


def test_errors_name_the_line_of_the_right_table(tmp_path: Path) -> None:
    path = tmp_path / "spip.toml"
    path.write_text(
        'default = "a"\n[indexes.a]\nurl = "https://a.example/simple"\n\n'
        '[indexes.b]\nurl = "ftp://b.example/simple"\n'
    )
    with pytest.raises(SourceMapError) as info:
        load_source_map(path)
    assert f"{path}:6 [indexes.b.url]" in info.value.render()


def test_large_map_file_loads_in_linear_time(tmp_path: Path) -> None:
    lines = [
        'default = "public"',
        "[indexes.public]",
        'url = "https://p.example/simple"',
        "[indexes.private]",
        'url = "https://q.example/simple"',
        "[packages]",
    ]
    lines += [f'"team{i}-*" = "private"' for i in range(10000)]
    path = tmp_path / "spip.toml"
    path.write_text("\n".join(lines) + "\n")
    source_map = load_source_map(path)
    route = source_map.index_for("team9999-api")
    assert route.rule is not None and route.rule.location == f'{path}:10006 [packages."team9999-*"]'
