"""A wheel's RECORD through HTTP range requests: fewer bytes than the wheel, every answer
checked, and None (a full download) from a server that ignores ranges."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from pipx_secure.index.ranges import (
    TAIL,
    ByteRange,
    RangeError,
    parse_content_range,
    remote_record,
)
from pipx_secure.install.archives import wheel_record
from tests.support.packages import metadata_text, write_wheel


class Server:
    """Serves ranges of one file, as an index that supports them does (RFC 9110 §14)."""

    def __init__(self, data: bytes, *, ranges: bool = True) -> None:
        self.data = data
        self.ranges = ranges
        self.sent = 0
        self.requests: list[tuple[int, int | None]] = []

    def __call__(self, first: int, last: int | None) -> ByteRange | None:
        self.requests.append((first, last))
        if not self.ranges:
            return None
        size = len(self.data)
        start = max(0, size + first) if first < 0 else first
        end = size - 1 if first < 0 or last is None else min(last, size - 1)
        body = self.data[start : end + 1]
        self.sent += len(body)
        return ByteRange(start, body, size)


def big_wheel(tmp_path: Path, payload: int = 300_000, modules: int = 40) -> Path:
    files: dict[str, bytes | str] = {f"bigpkg/m{i}.py": f"X = {i}\n" for i in range(modules)}
    files["bigpkg/blob.bin"] = os.urandom(payload)
    return write_wheel(tmp_path, "bigpkg", "1.0.0", files, metadata_text("bigpkg", "1.0.0"))


def test_record_by_ranges_equals_the_wheels_and_costs_less(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path)
    server = Server(wheel.read_bytes())
    remote = remote_record(server, "bigpkg", wheel.name)
    assert remote is not None and remote.whole is None
    assert list(remote.entries) == wheel_record(wheel)
    assert server.sent == remote.fetched < wheel.stat().st_size // 4
    assert server.requests[0] == (-TAIL, None)  # the tail first


def test_a_central_directory_bigger_than_the_tail_is_fetched_on_demand(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path, payload=200_000, modules=1500)
    server = Server(wheel.read_bytes())
    remote = remote_record(server, "bigpkg", wheel.name)
    assert remote is not None and len(remote.entries) == 1500 + 4
    assert len(server.requests) >= 2 and server.sent < wheel.stat().st_size


def test_a_small_wheel_comes_whole_for_the_hash_check(tmp_path: Path) -> None:
    wheel = write_wheel(
        tmp_path, "tiny", "1.0", {"tiny/__init__.py": ""}, metadata_text("tiny", "1.0")
    )
    remote = remote_record(Server(wheel.read_bytes()), "tiny", wheel.name)
    assert remote is not None and remote.whole == wheel.read_bytes()


def test_a_server_without_ranges_means_a_full_download(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path)
    server = Server(wheel.read_bytes(), ranges=False)
    assert remote_record(server, "bigpkg", wheel.name) is None
    assert len(server.requests) == 1


def test_a_file_that_changes_between_requests_is_refused(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path, modules=1500)
    data = wheel.read_bytes()
    server = Server(data)
    calls = []

    def fickle(first: int, last: int | None) -> ByteRange | None:
        calls.append(first)
        got = server(first, last)
        if got is not None and len(calls) > 1:
            return ByteRange(got.start, got.data, got.total + 1)
        return got

    with pytest.raises(RangeError):
        remote_record(fickle, "bigpkg", wheel.name)


def test_garbage_is_a_range_error_not_a_crash() -> None:
    junk = os.urandom(100_000)
    with pytest.raises(RangeError):
        remote_record(Server(junk), "bigpkg", "bigpkg-1.0.0-py3-none-any.whl")


@pytest.mark.parametrize(
    ("header", "length"),
    [
        (None, 10),
        ("bytes 0-9/5", 10),
        ("bytes 5-9/100", 10),
        ("bytes */100", 0),
        ("items 0-9/10", 10),
    ],
)
def test_content_range_must_fit_the_body(header: str | None, length: int) -> None:
    with pytest.raises(RangeError):
        parse_content_range(header, length)


def test_content_range_parsed() -> None:
    assert parse_content_range("bytes 90-99/100", 10) == (90, 100)


def test_record_member_of_another_project_is_not_taken(tmp_path: Path) -> None:
    wheel = big_wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("other-1.0.dist-info/RECORD", "evil.py,sha256=AAAA,1\n")
    remote = remote_record(Server(wheel.read_bytes()), "bigpkg", wheel.name)
    assert remote is not None and all(e.path != "evil.py" for e in remote.entries)
