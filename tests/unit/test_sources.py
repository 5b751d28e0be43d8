"""Local sources: what ``classify`` accepts or refuses, and the PEP 610 record ``prepare`` makes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipx_secure.errors import PolicyError
from pipx_secure.model.hashes import Digest
from pipx_secure.model.maptoml import parse_source_map
from pipx_secure.model.reqline import RequirementLine, parse_cli_requirement, parse_requirement
from pipx_secure.model.sourcemap import SourceMap
from pipx_secure.resolve.sources import DirectArchive, GitCheckout, LocalPath, classify
from tests.support.packages import build_wheel
from tests.unit.fakes import map_text, sha256_of

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

MAP: SourceMap = parse_source_map(tomllib.loads(map_text()), origin="spip.toml")
DIGEST = "ab" * 32
WHEEL_URL = "https://git.example/files/acme_tool-1.0-py3-none-any.whl"
REPO = "https://git.example/acme/tool.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def line(text: str, cwd: Path = Path("/project"), *, editable: bool = False) -> RequirementLine:
    return parse_cli_requirement(text, cwd=cwd, editable=editable)


# -- classify -------------------------------------------------------------------------------


def test_index_requirement_is_not_a_local_source() -> None:
    assert classify(line("acme-utils>=1.0"), MAP) is None
    assert classify(line("six-lite[extra]==1.16 ; python_version >= '3'"), MAP) is None


def test_local_directory_and_editable_are_local_paths(tmp_path: Path) -> None:
    plain = classify(line("./proj", tmp_path), MAP)
    editable = classify(line("./proj", tmp_path, editable=True), MAP)
    assert isinstance(plain, LocalPath) and isinstance(editable, LocalPath)
    assert (plain.path, plain.editable) == (tmp_path / "proj", False)
    assert (editable.path, editable.editable) == (tmp_path / "proj", True)


def test_local_wheel_file_is_a_local_path(tmp_path: Path) -> None:
    found = classify(line("dist/acme_x-1.0-py3-none-any.whl", tmp_path), MAP)
    assert isinstance(found, LocalPath)
    assert found.path == tmp_path / "dist" / "acme_x-1.0-py3-none-any.whl"


def test_allowed_direct_archive_with_fragment_hash() -> None:
    found = classify(line(f"acme-tool @ {WHEEL_URL}#sha256={DIGEST.upper()}"), MAP)
    assert isinstance(found, DirectArchive)
    assert (found.url, found.digest, found.filename) == (
        WHEEL_URL,
        Digest("sha256", DIGEST),
        "acme_tool-1.0-py3-none-any.whl",
    )


def test_allowed_direct_archive_with_hash_option() -> None:
    given = parse_requirement(
        f"acme-tool @ {WHEEL_URL}", "req.txt:3", Path("/"), hashes=(f"sha256:{DIGEST}",)
    )
    found = classify(given, MAP)
    assert isinstance(found, DirectArchive)
    assert (found.url, found.digest) == (WHEEL_URL, Digest("sha256", DIGEST))


def test_allowed_git_url_with_and_without_revision() -> None:
    pinned = classify(line(f"acme-tool @ git+{REPO}@v1.2"), MAP)
    default = classify(line(f"acme-tool @ git+{REPO}"), MAP)
    assert isinstance(pinned, GitCheckout) and isinstance(default, GitCheckout)
    assert (pinned.repository, pinned.revision) == (REPO, "v1.2")
    assert (default.repository, default.revision) == (REPO, "")


def test_git_url_with_a_user_is_not_split_at_the_user() -> None:
    """``ssh://git@host/repo`` has no revision; the ``@`` belongs to the user part."""
    found = classify(line("acme-tool @ git+ssh://git@git.example/acme/tool.git"), MAP)
    assert isinstance(found, GitCheckout)
    assert found.revision == ""
    assert found.repository.endswith("git.example/acme/tool.git")


def test_git_url_with_a_token_keeps_its_revision_and_drops_the_token() -> None:
    """The token must reach neither the repository (git's argv, direct_url.json) nor the rev."""
    text = "acme-tool @ git+https://bot:tok-9f2e@git.example/acme/tool.git@main"
    found = classify(line(text), MAP)
    assert isinstance(found, GitCheckout)
    assert "tok-9f2e" not in found.repository
    assert (found.repository, found.revision) == (REPO, "main")


def test_direct_url_without_hash_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        classify(line(f"acme-tool @ {WHEEL_URL}"), MAP)
    assert "has no hash" in info.value.message
    assert "#sha256=" in (info.value.hint or "")
    assert info.value.exit_code == 3


def test_direct_url_that_is_not_an_archive_is_refused() -> None:
    with pytest.raises(PolicyError, match="not an http"):
        classify(line(f"acme-tool @ https://git.example/acme/tool/#sha256={DIGEST}"), MAP)


@pytest.mark.parametrize(
    "url",
    [
        f"git+{REPO}@-oProxyCommand=touch_pwned",
        f"git+{REPO}@--upload-pack=touch_pwned",
    ],
)
def test_git_revision_that_looks_like_an_option_is_refused(url: str) -> None:
    with pytest.raises(PolicyError) as info:
        classify(line(f"acme-tool @ {url}"), MAP)
    assert "invalid git revision or repository" in info.value.message


def test_git_repository_that_looks_like_an_option_is_refused() -> None:
    refused = RequirementLine(
        line("acme-tool").requirement, "req.txt:1", url="git+-oProxyCommand=x@git.example"
    )
    with pytest.raises(PolicyError):
        classify(refused, MAP)


@pytest.mark.parametrize(
    "text",
    [
        f"acme-tool @ https://files.example/acme_tool-1.0-py3-none-any.whl#sha256={DIGEST}",
        f"other-tool @ https://git.example/other_tool-1.0-py3-none-any.whl#sha256={DIGEST}",
        "acme-tool @ git+https://code.example/acme/tool.git@v1",
    ],
)
def test_url_not_allowed_by_direct_urls_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(PolicyError) as info:
        classify(line(text), MAP)
    assert "bypasses the source map" in info.value.message
    assert "[direct-urls]" in (info.value.hint or "")


def test_refused_url_does_not_show_its_password() -> None:
    text = f"acme-tool @ https://u:pw-77c1@files.example/acme_tool-1.0.tar.gz#sha256={DIGEST}"
    with pytest.raises(PolicyError) as info:
        classify(line(text), MAP)
    assert "pw-77c1" not in info.value.render()


def test_unnamed_url_is_refused() -> None:
    with pytest.raises(PolicyError, match="no project name"):
        classify(line(f"git+{REPO}@v1"), MAP)


# -- prepare ----------------------------------------------------------------------------------


class RecordingPreparer:
    """A :class:`~pipx_secure.resolve.sources.Preparer` that records what it was asked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[object, ...]] = []
        self.wheel = root / "out" / "acme_tool-1.0-py3-none-any.whl"

    def wheel_from(self, path: Path, *, editable: bool, location: str) -> Path:
        self.calls.append(("wheel_from", path, editable, location))
        return self.wheel

    def archive(self, url: str, digest: Digest, filename: str, location: str) -> Path:
        self.calls.append(("archive", url, digest, filename, location))
        return self.root / "downloaded" / filename

    def checkout(self, repository: str, revision: str, location: str) -> tuple[Path, str]:
        self.calls.append(("checkout", repository, revision, location))
        return self.root / "clone", COMMIT


@pytest.mark.parametrize("editable", [True, False])
def test_prepare_directory_records_dir_info(tmp_path: Path, editable: bool) -> None:
    (tmp_path / "proj").mkdir()
    source = classify(line("./proj", tmp_path, editable=editable), MAP)
    assert isinstance(source, LocalPath)
    preparer = RecordingPreparer(tmp_path)
    prepared = source.prepare(preparer)
    assert prepared.wheel == preparer.wheel
    assert preparer.calls == [("wheel_from", tmp_path / "proj", editable, "command line")]
    expected = {"editable": True} if editable else {}
    assert prepared.direct_url.to_dict() == {
        "url": (tmp_path / "proj").as_uri(),
        "dir_info": expected,
    }


def test_prepare_local_wheel_records_its_hash(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "acme-x", "1.0")
    source = classify(line(f"dist/{wheel.name}", tmp_path), MAP)
    assert isinstance(source, LocalPath)
    prepared = source.prepare(RecordingPreparer(tmp_path))
    assert prepared.direct_url.to_dict() == {
        "url": wheel.as_uri(),
        "archive_info": {"hashes": {"sha256": sha256_of(wheel)}},
    }


def test_prepare_missing_path_is_refused_before_the_preparer_is_asked(tmp_path: Path) -> None:
    source = classify(line("./nowhere", tmp_path), MAP)
    assert isinstance(source, LocalPath)
    preparer = RecordingPreparer(tmp_path)
    with pytest.raises(PolicyError, match="does not exist"):
        source.prepare(preparer)
    assert preparer.calls == []


def test_prepare_direct_archive_downloads_then_builds(tmp_path: Path) -> None:
    source = classify(line(f"acme-tool @ {WHEEL_URL}#sha256={DIGEST}"), MAP)
    assert isinstance(source, DirectArchive)
    preparer = RecordingPreparer(tmp_path)
    prepared = source.prepare(preparer)
    downloaded = tmp_path / "downloaded" / "acme_tool-1.0-py3-none-any.whl"
    assert preparer.calls == [
        (
            "archive",
            WHEEL_URL,
            Digest("sha256", DIGEST),
            "acme_tool-1.0-py3-none-any.whl",
            "command line",
        ),
        ("wheel_from", downloaded, False, "command line"),
    ]
    assert prepared.direct_url.to_dict() == {
        "url": WHEEL_URL,
        "archive_info": {"hashes": {"sha256": DIGEST}},
    }


@pytest.mark.parametrize(("revision", "requested"), [("v1.2", "v1.2"), ("", None)])
def test_prepare_git_checkout_records_commit_and_requested_revision(
    tmp_path: Path, revision: str, requested: str | None
) -> None:
    suffix = f"@{revision}" if revision else ""
    source = classify(line(f"acme-tool @ git+{REPO}{suffix}"), MAP)
    assert isinstance(source, GitCheckout)
    preparer = RecordingPreparer(tmp_path)
    prepared = source.prepare(preparer)
    assert preparer.calls == [
        ("checkout", REPO, revision, "command line"),
        ("wheel_from", tmp_path / "clone", False, "command line"),
    ]
    vcs: dict[str, str] = {"vcs": "git", "commit_id": COMMIT}
    if requested is not None:
        vcs["requested_revision"] = requested
    assert prepared.direct_url.to_dict() == {"url": REPO, "vcs_info": vcs}
