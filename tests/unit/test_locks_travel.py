"""Locks that travel, over the fakes: offline sync by hash, file identity, environments,
ecosystem locks (extras and dependency groups), and upgrades on purpose."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from pipx_secure.commands import check, lock, sync
from pipx_secure.errors import IntegrityError, UsageError
from pipx_secure.index.offline import OfflineError
from pipx_secure.model.filenames import normalized_filename
from pipx_secure.resolve.fromlock import Choice, LockEnvironmentError
from tests.support.packages import build_wheel
from tests.unit.fakes import PRIVATE_URL, PUBLIC_URL, Rig, make_rig, sha256_of

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOTS = ("acme-utils", "publicdep")
EVERYTHING = {"acme-core": "1.1.0", "acme-utils": "1.0.0", "publicdep": "1.0.0"}


def locked(rig: Rig, *reqs: str, **changes: object) -> lock.LockResult:
    settings = lock.LockSettings(
        requirements=reqs or ROOTS, output=rig.root / "pylock.toml", map_path=rig.map_path
    )
    return lock.run(lock.LockSettings(**{**settings.__dict__, **changes}), rig.services)


def sync_settings(rig: Rig, **changes: object) -> sync.SyncSettings:
    settings = sync.SyncSettings(rig.root / "pylock.toml", rig.map_path)
    return sync.SyncSettings(**{**settings.__dict__, **changes})


def forget_downloads(rig: Rig) -> None:
    shutil.rmtree(rig.cache.root / "artifacts")


# -- 1. offline by hash -------------------------------------------------------------------


def test_sync_with_every_file_cached_asks_no_index(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    locked(rig)
    rig.transport.requests.clear()
    result = sync.run(sync_settings(rig), rig.services)
    assert rig.transport.requests == []
    assert (result.network, result.local) == (False, 3)
    assert rig.installed() == EVERYTHING


def test_offline_sync_names_every_missing_file_and_installs_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    locked(rig)
    for name in ("acme_core-1.1.0-py3-none-any.whl", "publicdep-1.0.0-py3-none-any.whl"):
        for found in (rig.cache.root / "artifacts").rglob(name):
            found.unlink()
    rig.transport.requests.clear()
    with pytest.raises(OfflineError) as caught:
        sync.run(sync_settings(rig, offline=True), rig.services)
    message = caught.value.render()
    assert "2 file(s)" in message
    assert "acme_core-1.1.0-py3-none-any.whl" in message
    assert "publicdep-1.0.0-py3-none-any.whl" in message
    assert "acme_utils" not in message
    assert caught.value.exit_code == 5
    assert rig.transport.requests == []
    assert rig.processes.of_kind("pip-install") == []
    assert rig.installed() == {}


def test_wheelhouse_files_are_matched_by_hash_only(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    locked(rig)
    forget_downloads(rig)
    house = tmp_path / "house"
    house.mkdir()
    served = sorted((rig.root / "files").rglob("*.whl"))
    for number, wheel in enumerate(served):
        shutil.copyfile(wheel, house / f"blob-{number}")  # names mean nothing
    # A decoy with the right name and the wrong bytes is ignored.
    (house / "acme_core-1.1.0-py3-none-any.whl").write_bytes(b"not the locked file")
    rig.transport.requests.clear()
    result = sync.run(sync_settings(rig, offline=True, wheelhouse=house), rig.services)
    assert rig.transport.requests == []
    assert result.network is False and rig.installed() == EVERYTHING
    # The wheelhouse filled the cache: the next sync needs neither it nor an index.
    assert sorted(p.name for p in (rig.cache.root / "artifacts").rglob("*.whl")) == [
        "acme_core-1.1.0-py3-none-any.whl",
        "acme_utils-1.0.0-py3-none-any.whl",
        "publicdep-1.0.0-py3-none-any.whl",
    ]


def test_a_satisfied_target_starts_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    locked(rig)
    sync.run(sync_settings(rig), rig.services)
    forget_downloads(rig)
    rig.transport.requests.clear()
    rig.processes.calls.clear()
    result = sync.run(sync_settings(rig, offline=True), rig.services)
    assert result.installed == () and result.network is False
    assert rig.transport.requests == [] and rig.processes.calls == []


def test_same_version_installed_by_another_tool_is_reinstalled(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    locked(rig, "acme-core")
    rig.processes.put("acme-core", "1.1.0")  # no provenance: not known to be the locked file
    result = sync.run(sync_settings(rig), rig.services)
    assert [p.name for p in result.installed] == ["acme-core"]
    (pip,) = rig.processes.of_kind("pip-install")
    assert "--force-reinstall" in pip.argv


# -- 2. file identity, not spelling -------------------------------------------------------


def _spelled_rig(tmp_path: Path) -> tuple[Rig, Path]:
    """The public index serves ``Six_Lite-1.16.0-py3-none-any.whl`` (old-style spelling)."""
    built = build_wheel(tmp_path / "built", "six-lite", "1.16.0")
    served = built.with_name("Six_Lite-1.16.0-py3-none-any.whl")
    built.rename(served)
    rig = make_rig(tmp_path, {PUBLIC_URL: {"six-lite": [served]}, PRIVATE_URL: {}})
    return rig, served


def _lock_text(url: str, filename: str, sha256: str, index: str | None = None) -> str:
    index_line = f'index = "{index}"\n' if index else ""
    return (
        'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "six-lite"\n'
        f'version = "1.16.0"\n{index_line}'
        f'wheels = [{{ url = "{url}", name = "{filename}", hashes = {{ sha256 = "{sha256}" }} }}]\n'
    )


def test_a_lock_whose_file_name_differs_only_in_spelling_syncs(tmp_path: Path) -> None:
    rig, served = _spelled_rig(tmp_path)
    normalized = normalized_filename(served.name)
    assert normalized == "six_lite-1.16.0-py3-none-any.whl"
    lock_path = rig.root / "pylock.toml"
    url = f"https://public.example/files/{normalized}"
    lock_path.write_text(_lock_text(url, normalized, sha256_of(served), PUBLIC_URL))
    report = check.run(check.CheckSettings((lock_path,), rig.map_path, online=True), rig.services)
    assert [f for f in report.findings if f.severity == "error"] == []
    sync.run(sync_settings(rig), rig.services)
    assert rig.installed() == {"six-lite": "1.16.0"}
    # By name, with another hash: refused as a replaced file, naming the index's spelling.
    lock_path.write_text(_lock_text(url, normalized, "0" * 64, PUBLIC_URL))
    with pytest.raises(IntegrityError, match=r"publishes now for Six_Lite-1\.16\.0"):
        sync.run(sync_settings(rig, python=None, exact=False), rig.services)
    report = check.run(check.CheckSettings((lock_path,), rig.map_path, online=True), rig.services)
    errors = [(f.kind, f.package) for f in report.findings if f.severity == "error"]
    assert errors == [("lock-hash", "six-lite")]


def test_a_file_url_off_the_assigned_index_is_refused_with_or_without_index_key(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    wheel = rig.root / "files" / "private" / "acme_core-1.1.0-py3-none-any.whl"
    name = wheel.name
    lock_path = rig.root / "pylock.toml"
    for index in (None, PRIVATE_URL):
        text = _lock_text(f"https://public.example/files/{name}", name, sha256_of(wheel), index)
        lock_path.write_text(text.replace("six-lite", "acme-core").replace("1.16.0", "1.1.0"))
        report = check.run(check.CheckSettings((lock_path,), rig.map_path), rig.services)
        assert [(f.kind, f.package, f.index) for f in report.findings] == [
            ("lock-url", "acme-core", "private")
        ]
        assert report.exit_code == 1
        rig.transport.requests.clear()
        with pytest.raises(Exception, match="not on index private") as caught:
            sync.run(sync_settings(rig), rig.services)
        assert getattr(caught.value, "exit_code", None) == 3
        assert rig.transport.requests == [] and rig.installed() == {}


# -- 3. every environment in one lock -----------------------------------------------------


ENVIRONMENTS = (
    "environments = [\"sys_platform == 'linux' and python_version == '3.11'\", "
    "\"sys_platform == 'darwin' and python_version == '3.12'\"]\n"
)


def test_environments_declared_in_the_map_are_locked_in_one_lock(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.map_path.write_text(ENVIRONMENTS + rig.map_path.read_text())
    result = locked(rig)
    data = tomllib.loads(result.output.read_text())
    parsed = Pylock.from_dict(data)
    assert [str(m) for m in parsed.environments or ()] == [
        'sys_platform == "darwin" and python_version == "3.12"',
        'sys_platform == "linux" and python_version == "3.11"',
    ]
    assert str(parsed.requires_python) in (">=3.11,<3.13", "<3.13,>=3.11")
    assert len(result.environments) == 2
    assert rig.processes.calls == []  # described environments: no interpreter probed
    # The fake target is CPython 3.11 on Linux: covered, so it syncs.
    sync.run(sync_settings(rig), rig.services)
    assert rig.installed() == EVERYTHING


def test_sync_on_an_environment_the_lock_does_not_cover_fails_before_any_download(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.map_path.write_text(
        "environments = [\"sys_platform == 'win32' and python_version == '3.12'\"]\n"
        + rig.map_path.read_text()
    )
    locked(rig)
    forget_downloads(rig)
    rig.transport.requests.clear()
    with pytest.raises(LockEnvironmentError) as caught:
        sync.run(sync_settings(rig), rig.services)
    message = caught.value.render()
    assert "CPython 3.11.7, linux x86_64" in message
    assert 'sys_platform == "win32" and python_version == "3.12"' in message
    assert "==3.12.*" in message
    assert rig.transport.requests == [] and rig.processes.of_kind("pip-install") == []


def test_the_default_lock_names_its_one_environment(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    data = tomllib.loads(locked(rig).output.read_text())
    assert data["requires-python"] == "==3.11.*"
    assert data["environments"] == [
        'sys_platform == "linux" and platform_machine == "x86_64" and python_version == "3.11"'
    ]


def test_an_environment_spip_cannot_describe_is_an_error_naming_it(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.map_path.write_text(
        "environments = [\"python_version >= '3.12'\"]\n" + rig.map_path.read_text()
    )
    with pytest.raises(UsageError, match=r"spip\.toml:1 \[environments\].*python_version >="):
        locked(rig)


# -- 4. locks from the ecosystem: extras and dependency groups ----------------------------


def pdm_style_lock(rig: Rig) -> str:
    """A lock in the shape of pdm's PEP 751 export, written by hand from the spec (pdm is
    not a test dependency): groups ``default`` and ``dev``, extra ``fast``."""
    files = rig.root / "files"

    def package(name: str, version: str, side: str, marker: str) -> str:
        wheel = files / side / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
        url = PRIVATE_URL if side == "private" else PUBLIC_URL
        return (
            f'\n[[packages]]\nname = "{name}"\nversion = "{version}"\n'
            f'requires-python = ">=3.9"\nmarker = \'{marker}\'\nindex = "{url.rstrip("/")}"\n'
            f'\n[[packages.wheels]]\nname = "{wheel.name}"\n'
            f'url = "{url[: -len("simple/")]}files/{wheel.name}"\n'
            f'hashes = {{sha256 = "{sha256_of(wheel)}"}}\n'
            "\n[packages.tool.pdm]\ndependencies = []\n"
        )

    return (
        'lock-version = "1.0"\nrequires-python = ">=3.9"\nextras = ["fast"]\n'
        'dependency-groups = ["default", "dev"]\ndefault-groups = ["default"]\n'
        'created-by = "pdm"\n'
        + package("acme-core", "1.1.0", "private", '"default" in dependency_groups')
        + package("acme-utils", "1.0.0", "private", '"fast" in extras')
        + package("six-lite", "1.16.0", "public", '"dev" in dependency_groups')
    )


def test_extras_and_dependency_groups_of_a_pdm_style_lock(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    path = rig.root / "pylock.toml"
    path.write_text(pdm_style_lock(rig))
    assert check.run(check.CheckSettings((path,), rig.map_path), rig.services).findings == ()
    sync.run(sync_settings(rig), rig.services)
    assert rig.installed() == {"acme-core": "1.1.0"}
    sync.run(sync_settings(rig, choice=Choice(extras=("fast",), groups=("dev",))), rig.services)
    assert rig.installed() == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "six-lite": "1.16.0"}
    with pytest.raises(UsageError, match="declares no extra nope") as caught:
        sync.run(sync_settings(rig, choice=Choice(extras=("nope",))), rig.services)
    assert "the lock's extras: fast" in caught.value.render()
    dry = sync.run(
        sync_settings(rig, dry_run=True, exact=True, choice=Choice(default_groups=False)),
        rig.services,
    )
    assert dry.uninstalled == ("acme-core", "acme-utils", "six-lite")


# -- 5. upgrade on purpose ----------------------------------------------------------------


def test_upgrade_package_moves_exactly_one_pin(tmp_path: Path) -> None:
    files = tmp_path / "files"
    rig = make_rig(
        tmp_path,
        {
            PRIVATE_URL: {
                "acme-core": [build_wheel(files, "acme-core", "1.0.0")],
                "acme-utils": [build_wheel(files, "acme-utils", "1.0.0", requires=["acme-core"])],
            },
            PUBLIC_URL: {"six-lite": [build_wheel(files, "six-lite", "1.16.0")]},
        },
    )
    first = locked(rig, "acme-utils", "six-lite")
    text = first.output.read_text()
    catalogue = rig.transport.catalogue
    catalogue[PRIVATE_URL]["acme-core"].append(build_wheel(files, "acme-core", "1.1.0"))
    catalogue[PRIVATE_URL]["acme-utils"].append(
        build_wheel(files, "acme-utils", "1.1.0", requires=["acme-core"])
    )
    catalogue[PUBLIC_URL]["six-lite"].append(build_wheel(files, "six-lite", "1.17.0"))
    again = locked(rig, "acme-utils", "six-lite")
    assert (again.changed, again.moved) == (False, ())
    assert again.output.read_text() == text
    one = locked(rig, "acme-utils", "six-lite", upgrade_packages=("ACME_Core",))
    assert one.moved == ("acme-core 1.0.0 -> 1.1.0",)
    versions = {p["name"]: p["version"] for p in tomllib.loads(one.output.read_text())["packages"]}
    assert versions == {"acme-core": "1.1.0", "acme-utils": "1.0.0", "six-lite": "1.16.0"}
    everything = locked(rig, "acme-utils", "six-lite", upgrade=True)
    assert everything.moved == ("acme-utils 1.0.0 -> 1.1.0", "six-lite 1.16.0 -> 1.17.0")
    with pytest.raises(UsageError, match="--upgrade-package nope: not in the lock"):
        locked(rig, "acme-utils", "six-lite", upgrade_packages=("nope",))


def test_environments_in_pyproject_when_the_map_is_spip_toml(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    (rig.services.cwd / "pyproject.toml").write_text(
        "[tool.spip]\nenvironments = [\"sys_platform == 'win32' and python_version == '3.12'\"]\n"
    )
    data = tomllib.loads(locked(rig).output.read_text())
    assert data["environments"] == ['sys_platform == "win32" and python_version == "3.12"']
    assert data["requires-python"] == "==3.12.*"
    assert rig.processes.calls == []
