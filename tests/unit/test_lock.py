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
