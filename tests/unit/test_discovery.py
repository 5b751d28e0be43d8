"""spip init's sources, each parsed in its own format; passwords split off; bad input named."""

from __future__ import annotations

from pathlib import Path

from pipx_secure.config.discovery import (
    Found,
    from_dotenv,
    from_makefile,
    from_netrc,
    from_pip_settings,
    from_pypirc,
    from_pyproject,
    from_requirement_text,
    split_url,
)
from pipx_secure.config.pipconfig import PipSetting, parse_config_text
from pipx_secure.config.proposal import (
    Proposal,
    ProposedIndex,
    choose_default,
    group_indexes,
    index_key,
    render,
    rules_for,
)


def test_password_is_split_off_and_never_rendered() -> None:
    found = split_url("https://ci:s3cr%40t@pkgs.example/simple", "here", "index-url")
    assert found is not None
    assert found.url == "https://pkgs.example/simple" and found.username == "ci"
    assert found.password == "s3cr@t" and "s3cr" not in repr(found)


def test_pip_settings_and_env_file_and_makefile() -> None:
    pip = from_pip_settings(
        [
            PipSetting("index-url", "https://mirror.example/simple", "pip.conf [global]"),
            PipSetting("extra-index-url", "https://u:p@a.example/simple https://b.example/x", "X"),
            PipSetting("trusted-host", "a.example b.example", "pip.conf [global]"),
        ]
    )
    assert [i.url for i in pip.indexes] == [
        "https://mirror.example/simple",
        "https://a.example/simple",
        "https://b.example/x",
    ]
    assert pip.indexes[0].primary and not pip.indexes[1].primary
    assert [s.value for s in pip.settings] == ["a.example", "b.example"]
    env = from_dotenv(
        "A=1\nPIP_EXTRA_INDEX_URL='https://u:pw@a.example/simple'\nnot valid\n", ".env"
    )
    assert env.indexes[0].password == "pw" and env.indexes[0].where == ".env:2 PIP_EXTRA_INDEX_URL"
    assert env.problems[0].where == ".env:3"
    make = from_makefile(
        "x:\n\tpip install --extra-index-url https://u:pw@a.example/simple y\n", "Makefile"
    )
    assert make.indexes[0].where == "Makefile:2 --extra-index-url"


def test_pypirc_requirements_pyproject_and_netrc(tmp_path: Path) -> None:
    pypirc = from_pypirc(
        "[distutils]\nindex-servers = corp\n[corp]\nrepository = https://a.example/\n"
        "username = ci\npassword = pw\n[pypi]\nusername = __token__\npassword = t\n",
        ".pypirc",
    )
    assert [(i.name, i.username, i.password) for i in pypirc.indexes] == [("corp", "ci", "pw")]
    assert from_pypirc("[corp\n", ".pypirc").problems[0].where == ".pypirc:1"
    req = from_requirement_text(
        "-i https://a.example/simple\n--extra-index-url=https://b.example/s\nAcme_Core>=1\n",
        "r.txt",
    )
    assert [i.role for i in req.indexes] == ["index-url", "extra-index-url"]
    assert req.names == ("acme-core",)
    project = from_pyproject(
        {
            "project": {"dependencies": ["acme-utils"], "optional-dependencies": {"x": ["y"]}},
            "dependency-groups": {"dev": ["pytest", {"include-group": "x"}]},
            "tool": {
                "uv": {
                    "index": [{"name": "corp", "url": "https://a.example/simple", "default": True}]
                },
                "poetry": {"source": [{"name": "p", "url": "https://p.example/simple"}]},
                "pdm": {"source": [{"name": "d", "url": "https://d.example/simple"}]},
            },
        },
        "pyproject.toml",
    )
    assert [i.name for i in project.indexes] == ["corp", "p", "d"] and project.indexes[0].primary
    assert set(project.names) == {"acme-utils", "y", "pytest"}
    netrc = tmp_path / "netrc"
    netrc.write_text("machine a.example login ci password pw\nmachine b.example login x\n")
    entries, problems = from_netrc(str(netrc))
    assert [e.machine for e in entries] == ["a.example"] and problems == ()
    netrc.write_text("machine\n")
    assert from_netrc(str(netrc))[1][0].where.startswith(str(netrc))


def test_malformed_pip_config_names_file_and_line() -> None:
    import pytest

    from pipx_secure.errors import InputError

    with pytest.raises(InputError) as info:
        parse_config_text("[global]\nindex-url = x\n  [broken\nno equals here\n", "pip.conf")
    assert info.value.render().startswith("pip.conf:")


def test_grouping_default_and_rules() -> None:
    found = Found(
        from_pip_settings(
            [
                PipSetting("index-url", "https://mirror.example/simple/", "pip.conf"),
                PipSetting("extra-index-url", "https://ci:pw@corp.example/simple", "pip.conf"),
            ]
        ).indexes
        + from_pypirc(
            "[corp]\nrepository = https://corp.example/upload\npassword = pw\n", "rc"
        ).indexes
    )
    indexes = group_indexes(found, (), "https://builtin.example/simple/")
    assert [i.name for i in indexes] == ["mirror", "corp"]
    assert index_key("https://CORP.example/simple") == index_key("https://corp.example:443/simple/")
    default = choose_default(indexes)
    assert default is not None and default.name == "mirror"  # no credential: the default
    rules, conflicts = rules_for(
        {"corp": frozenset({"acme-a", "acme-b", "solo"}), "other": frozenset({"solo", "x-y"})},
        ["acme-a", "acme-b", "solo", "x-y", "requests"],
    )
    assert rules == {"acme-*": "corp", "x-y": "other"} and conflicts == {"solo": ("corp", "other")}
    blocked, _ = rules_for({"corp": frozenset({"acme-a", "acme-b"})}, ["acme-public"])
    assert blocked == {"acme-a": "corp", "acme-b": "corp"}  # acme-public is not corp's
    text = render(
        Proposal(
            (ProposedIndex("public", "https://m.example/simple/", ()),), "public", rules, conflicts
        ),
        "tool.spip",
    )
    assert "[tool.spip.indexes.public]" in text and '"acme-*" = "corp"' in text
    assert '# solo = "corp"' in text
