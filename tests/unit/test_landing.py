"""Seeing distributions land while pip runs: a RECORD written after the watch began is told
at once; a dist-info that was there before (an upgrade) is never watched."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from pipx_secure.install.landing import Landing, dist_info_name
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.hashes import Digest
from tests.support.packages import build_wheel


def _wheel(tmp_path: Path, name: str) -> WheelFile:
    path = build_wheel(tmp_path / "wheels", name, "1.0.0")
    return WheelFile(canonicalize_name(name), "1.0.0", path, Digest("sha256", "0" * 64))


def _land(site: Path, wheel: WheelFile) -> Path:
    name = dist_info_name(wheel.path)
    assert name is not None
    (site / name).mkdir(parents=True, exist_ok=True)
    (site / name / "RECORD").write_text("x,,\n")
    return site / name


def test_the_dist_info_directory_comes_from_the_wheel(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "acme-land")
    assert dist_info_name(wheel.path) == "acme_land-1.0.0.dist-info"
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    assert dist_info_name(tmp_path / "broken.whl") is None


def test_each_new_distribution_is_told_as_its_record_lands(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first, second, upgraded = (_wheel(tmp_path, n) for n in ("acme-one", "acme-two", "acme-old"))
    _land(site, upgraded)  # already installed: an upgrade is left to the step after pip
    told: list[tuple[str, Path]] = []
    seen = threading.Event()

    def on_landed(wheel: WheelFile, dist_info: Path) -> None:
        told.append((wheel.name, dist_info))
        seen.set()

    with Landing([first, second, upgraded], [str(site), str(site)], on_landed) as landing:
        assert landing.watching.wait(5)
        where = _land(site, first)
        assert seen.wait(5)
        (site / "acme_two-1.0.0.dist-info").mkdir()  # no RECORD yet: not complete
        time.sleep(0.1)
    assert told == [("acme-one", where)]
    assert landing.landed == [first] and landing.error is None


def test_a_failing_callback_is_kept_for_the_caller(tmp_path: Path) -> None:
    site = tmp_path / "site"
    wheel = _wheel(tmp_path, "acme-fail")

    def on_landed(wheel: WheelFile, dist_info: Path) -> None:
        raise OSError("disk full")

    with Landing([wheel], [str(site)], on_landed) as landing:
        assert landing.watching.wait(5)
        _land(site, wheel)
        deadline = time.monotonic() + 5
        while landing.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert isinstance(landing.error, OSError) and landing.landed == []


def test_a_dist_info_there_when_the_watch_begins_is_left_to_the_step_after_pip(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    wheel = _wheel(tmp_path, "acme-early")
    _land(site, wheel)  # pip already wrote it (or an old one is being replaced)
    told: list[str] = []
    with Landing([wheel], [str(site)], lambda w, d: told.append(w.name)) as landing:
        assert landing.watching.wait(5)
        time.sleep(0.1)
    assert told == [] and landing.landed == []


def test_nothing_to_watch_starts_no_thread(tmp_path: Path) -> None:
    before = threading.active_count()
    with Landing([], [str(tmp_path)], lambda w, d: None):
        assert threading.active_count() == before


@pytest.mark.parametrize("count", [1, 3])
def test_every_landing_is_told_once(tmp_path: Path, count: int) -> None:
    site = tmp_path / "site"
    wheels = [_wheel(tmp_path, f"acme-many{i}") for i in range(count)]
    told: list[str] = []
    with Landing(wheels, [str(site)], lambda w, d: told.append(w.name)) as landing:
        assert landing.watching.wait(5)
        for wheel in wheels:
            _land(site, wheel)
        deadline = time.monotonic() + 5
        while len(told) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
    assert sorted(told) == sorted(w.name for w in wheels)
