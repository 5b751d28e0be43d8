"""PEP 751 locks: standard output, deterministic, and checked against the source map."""

from __future__ import annotations

import sys

from packaging.pylock import Pylock
from packaging.utils import NormalizedName
from packaging.version import Version

from pipx_secure.model.hashes import Digest
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.pylock import check_lock_against_map, dumps, plan_to_pylock, pylock_from_dict
from tests.unit.maps import acme_map

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

MAP = acme_map()


def pin(name: str, version: str, index: str, filename: str) -> Pin:
    url = f"https://{index}.example/simple/"
    return Pin(
        NormalizedName(name),
        Version(version),
        index,
        url,
        filename,
        f"https://{index}.example/files/{filename}",
        Digest("sha256", "a" * 64),
        size=123,
        upload_time="2025-01-02T03:04:05Z",
    )


PLAN = Plan(
    (
        pin("acme-core", "1.1.0", "private", "acme_core-1.1.0-py3-none-any.whl"),
        pin("six", "1.16.0", "public", "six-1.16.0.tar.gz"),
    )
)


def test_lock_is_valid_pep751_with_index_and_hashes() -> None:
    text = dumps(plan_to_pylock(PLAN))
    data = tomllib.loads(text)
    lock = Pylock.from_dict(data)
    assert data["lock-version"] == "1.0" and data["created-by"] == "spip"
    core = next(p for p in lock.packages if p.name == "acme-core")
    assert core.index == "https://private.example/simple/"
    assert core.wheels and core.wheels[0].hashes == {"sha256": "a" * 64}
    six = next(p for p in lock.packages if p.name == "six")
    assert six.sdist is not None and six.sdist.size == 123


def test_relocking_is_byte_identical() -> None:
    assert dumps(plan_to_pylock(PLAN)) == dumps(plan_to_pylock(Plan(tuple(reversed(PLAN.pins)))))


def test_lock_pointing_private_name_at_public_index_is_flagged() -> None:
    data = tomllib.loads(dumps(plan_to_pylock(PLAN)))
    for package in data["packages"]:
        if package["name"] == "acme-core":
            package["index"] = "https://public.example/simple/"
    findings = check_lock_against_map(pylock_from_dict(data, "pylock.toml"), MAP)
    assert [f.name for f in findings] == ["acme-core"]
    assert "private" in findings[0].message


def test_lock_from_another_tool_is_accepted() -> None:
    other = {
        "lock-version": "1.0",
        "created-by": "some-other-tool",
        "packages": [
            {
                "name": "acme-core",
                "version": "1.1.0",
                "index": "https://private.example/simple",
                "wheels": [
                    {
                        "url": "https://private.example/f/acme_core-1.1.0-py3-none-any.whl",
                        "hashes": {"sha256": "b" * 64},
                    }
                ],
            },
        ],
    }
    lock = pylock_from_dict(other, "pylock.toml")
    assert check_lock_against_map(lock, MAP) == []


def _one_file_lock(url: str, index: str | None = None) -> dict[str, object]:
    package: dict[str, object] = {
        "name": "acme-core",
        "version": "1.1.0",
        "wheels": [{"url": url, "hashes": {"sha256": "c" * 64}}],
    }
    if index is not None:
        package["index"] = index
    return {"lock-version": "1.0", "created-by": "pip", "packages": [package]}


def test_file_urls_must_be_on_the_assigned_index_or_its_file_hosts() -> None:
    from pipx_secure.model.maptoml import parse_source_map

    hosted = parse_source_map(
        {
            "default": "public",
            "indexes": {
                "public": {"url": "https://public.example/simple/"},
                "private": {
                    "url": "https://private.example/simple/",
                    "file-hosts": ["files.private.example"],
                },
            },
            "packages": {"acme-*": "private"},
        },
        origin="spip.toml",
    )
    wheel = "acme_core-1.1.0-py3-none-any.whl"
    cases = {
        f"https://private.example/packages/{wheel}": [],
        f"https://files.private.example/x/{wheel}": [],
        f"http://files.private.example/x/{wheel}": ["lock-url"],  # file-hosts: https only
        f"https://private.example:8443/packages/{wheel}": ["lock-url"],  # another origin
        f"https://public.example/packages/{wheel}": ["lock-url"],
    }
    for url, kinds in cases.items():
        for index in (None, "https://private.example/simple"):
            lock = pylock_from_dict(_one_file_lock(url, index), "pylock.toml")
            found = check_lock_against_map(lock, hosted)
            assert [f.kind for f in found] == kinds, url
    lock = pylock_from_dict(
        _one_file_lock(f"https://public.example/packages/{wheel}"), "pylock.toml"
    )
    (finding,) = check_lock_against_map(lock, MAP)
    assert "packages[0].wheels[0] acme-core" in finding.message
    assert "no index key" in finding.message and finding.map_index_name == "private"


def test_sync_and_lock_options_become_settings() -> None:
    from pipx_secure.cli.parser import build_parser
    from pipx_secure.cli.settings import lock_settings, sync_settings

    parser = build_parser()
    given = "sync --offline --wheelhouse w --extra fast --group dev --all-groups"
    args = parser.parse_args([*given.split(), "--no-default-groups", "lock.toml"])
    settings = sync_settings(args)
    assert settings.offline and str(settings.wheelhouse) == "w"
    assert settings.choice.extras == ("fast",) and settings.choice.groups == ("dev",)
    assert settings.choice.all_groups and not settings.choice.default_groups
    assert not settings.choice.all_extras
    locked = lock_settings(parser.parse_args(["lock", "-P", "a", "--upgrade-package", "b", "x"]))
    assert locked.upgrade_packages == ("a", "b") and locked.upgrade is False
    assert lock_settings(parser.parse_args(["lock", "-U", "x"])).upgrade is True
