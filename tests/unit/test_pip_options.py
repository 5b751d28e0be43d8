"""Every option of pip install is classified, and the README's table is that classification."""

from __future__ import annotations

import re
from pathlib import Path

from pip._internal.commands import create_command

from pipx_secure.cli.parser import build_parser
from pipx_secure.cli.pip_install import BY_NAME, PIP_INSTALL, Support, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def pip_install_options() -> list[tuple[str, ...]]:
    """Every option of the installed pip's ``install`` command: its spellings."""
    command = create_command("install")
    found = []
    for group in [command.parser, *command.parser.option_groups]:
        for option in group.option_list:
            found.append((*option._short_opts, *option._long_opts))
    return list(dict.fromkeys(found))


def test_every_pip_install_option_is_classified_with_all_its_spellings() -> None:
    for names in pip_install_options():
        classified = {BY_NAME[n].names for n in names if n in BY_NAME}
        assert classified, f"pip's {names} is not classified"
        assert set(names) <= set(next(iter(classified))), names


def test_the_readme_table_is_the_classification() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- pip-install-options:start -->\n(.*?)<!-- pip-install-options:end -->", text, re.S
    )
    assert block is not None and block.group(1) == markdown_table()
    for option in PIP_INSTALL:
        assert f"`{option.long}`" in block.group(1)


def test_spip_install_parses_every_spelling() -> None:
    parser = build_parser()
    install = parser._subparsers._group_actions[0].choices["install"]  # type: ignore[union-attr]
    known = {s for action in install._actions for s in action.option_strings}
    for option in PIP_INSTALL:
        assert set(option.names) <= known, option.names
    refused = [o for o in PIP_INSTALL if o.support is Support.REFUSED]
    assert {"--extra-index-url", "--no-build-isolation", "--use-feature"} <= {
        o.long for o in refused
    }
