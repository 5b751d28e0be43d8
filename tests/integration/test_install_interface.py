"""spip install speaks pip: every row of the README's option table, on the real servers."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import (
    installed,
    make_venv,
    run_on_terminal,
    run_spip,
    spip_install_argv,
    store_password,
    tree_digest,
)
from tests.support.packages import build_wheel, write_local_project

pytestmark = pytest.mark.slow


def install(spip_map: Path, venv: Path, env: dict[str, str], *args: str, **kw):  # type: ignore[no-untyped-def]
    return run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *args],
        env,
        cwd=spip_map.parent,
        **kw,
    )


def published_sha256(index_url: str, project: str) -> dict[str, str]:
    page = urllib.request.urlopen(f"{index_url}{project}/").read().decode()
    result = {}
    for chunk in page.split('href="')[1:]:
        href = chunk.split('"', 1)[0]
        filename = href.split("#", 1)[0].rsplit("/", 1)[-1]
        result[filename] = href.split("#sha256=", 1)[1]
    return result


def test_nested_requirement_files_with_hashes(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    # The private index needs auth even for reading the page: use the password directly here.
    request = urllib.request.Request(f"{world.private.url}acme-core/")
    import base64

    token = base64.b64encode(f"{USERNAME}:{world.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    page = urllib.request.urlopen(request).read().decode()
    digest = page.split("acme_core-1.1.0-py3-none-any.whl#sha256=")[1].split('"')[0]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pins.txt").write_text(f"acme-core==1.1.0 \\\n    --hash=sha256:{digest}\n")
    top = tmp_path / "requirements.txt"
    top.write_text("# the app\n-r sub/pins.txt\nacme-utils  # routed privately\n")
    result = install(spip_map, venv, env, "-r", str(top))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0", "acme-utils": "1.0.0"}
    # A --hash that the index's file does not match: refused, nothing installed.
    other = make_venv(tmp_path / "other")
    (tmp_path / "sub" / "pins.txt").write_text(f"acme-core==1.1.0 --hash=sha256:{'1' * 64}\n")
    result = install(spip_map, other, env, "-r", str(top))
    assert result.returncode == 7
    assert "acme-core" in result.stderr and "--hash" in result.stderr
    assert installed(other) == {}


def test_require_hashes_needs_every_package_pinned(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("acme-utils==1.0.0 --hash=sha256:" + "2" * 64 + "\n")
    result = install(spip_map, venv, env, "--require-hashes", "-r", str(reqs))
    assert result.returncode == 2
    assert "acme-core" in result.stderr and "hash-checking mode" in result.stderr
    assert installed(venv) == {}


def test_editable_local_project_with_private_dependency(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    project = write_local_project(tmp_path / "app", "acme-app", "0.1.0", requires=["acme-utils"])
    result = install(spip_map, venv, env, "-e", str(project))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-app": "0.1.0", "acme-utils": "1.0.0", "acme-core": "1.1.0"}
    dist_info = next(
        (venv.parent.parent / "lib").glob("python3*/site-packages/acme_app-0.1.0.dist-info")
    )
    direct = json.loads((dist_info / "direct_url.json").read_text())
    assert direct["dir_info"] == {"editable": True}
    assert world.marker_files() == []


def test_local_project_built_with_private_backend(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    project = write_local_project(
        tmp_path / "svc",
        "acme-svc",
        "0.2.0",
        requires=["acme-core"],
        build_requires=["acme-backend"],
        backend="acme_backend",
    )
    result = install(spip_map, venv, env, str(project))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-svc": "0.2.0", "acme-core": "1.1.0"}
    assert world.marker_files() == []  # the public acme-backend 99 never ran


def test_local_wheel_file(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "dist", "acme-tool", "3.0.0", requires=["acme-core<1.1"])
    result = install(spip_map, venv, env, str(wheel))
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-tool": "3.0.0", "acme-core": "1.0.0"}


def test_dry_run_and_report(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    before = tree_digest(venv.parent.parent)
    result = install(
        spip_map,
        venv,
        env,
        "--dry-run",
        "--report",
        str(report_path),
        "acme-extras[fast]",
        "publicdep",
    )
    assert result.returncode == 0, result.stderr
    assert tree_digest(venv.parent.parent) == before
    assert "acme-core 1.1.0  [private]  would install" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["version"] == "1"
    assert set(report) >= {"version", "pip_version", "install", "environment"}
    items = {item["metadata"]["name"]: item for item in report["install"]}
    assert items["acme-core"]["index"] == world.private.url
    assert items["acme-core"]["index_name"] == "private"
    assert items["publicdep"]["index"] == world.public.url
    assert items["acme-extras"]["requested_extras"] == ["fast"]
    for item in report["install"]:
        assert set(item) >= {"download_info", "is_direct", "is_yanked", "requested", "metadata"}
        assert item["download_info"]["archive_info"]["hashes"]["sha256"]
        assert world.password not in json.dumps(item)
    assert report["environment"]["python_version"]


def test_upgrade_and_only_if_needed(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert install(spip_map, venv, env, "acme-core==1.0.0").returncode == 0
    assert install(spip_map, venv, env, "acme-utils").returncode == 0
    assert installed(venv)["acme-core"] == "1.0.0"  # satisfied: left alone
    result = install(spip_map, venv, env, "-U", "acme-core")
    assert result.returncode == 0, result.stderr
    assert installed(venv)["acme-core"] == "1.1.0"


def test_no_deps_and_force_reinstall(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert install(spip_map, venv, env, "--no-deps", "acme-utils").returncode == 0
    assert installed(venv) == {"acme-utils": "1.0.0"}
    module = next((venv.parent.parent / "lib").glob("python3*/site-packages/acme_utils"))
    (module / "__init__.py").write_text("broken = True\n")
    result = install(spip_map, venv, env, "--no-deps", "--force-reinstall", "acme-utils")
    assert result.returncode == 0, result.stderr
    assert "VERSION" in (module / "__init__.py").read_text()


def test_pre_releases_only_when_asked(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    assert install(spip_map, venv, env, "acme-beta").returncode == 0
    assert installed(venv)["acme-beta"] == "1.0.0"
    other = make_venv(tmp_path / "pre")
    assert install(spip_map, other, env, "--pre", "acme-beta").returncode == 0
    assert installed(other)["acme-beta"] == "2.0.0b1"


def test_only_binary_refuses_sdist_only_project(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = install(spip_map, venv, env, "--only-binary", ":all:", "acme-built")
    assert result.returncode == 4
    assert "acme-built" in result.stderr and "private" in result.stderr
    assert installed(venv) == {}


def test_target_directory(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    target = tmp_path / "vendor"
    result = install(spip_map, venv, env, "--target", str(target), "acme-core")
    assert result.returncode == 0, result.stderr
    assert (target / "acme_core" / "__init__.py").is_file()
    assert installed(venv) == {}


@pytest.mark.parametrize(
    "option",
    [
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--trusted-host",
    ],
)
def test_options_that_undo_the_map_are_refused(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, option: str
) -> None:
    args = [option] if option == "--no-index" else [option, world.public.url]
    result = install(spip_map, venv, env, *args, "acme-core")
    assert result.returncode == 2
    assert option in result.stderr and "hint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert installed(venv) == {}


def test_unknown_pip_option_is_refused_by_name(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = install(spip_map, venv, env, "--use-feature", "fast-deps", "acme-core")
    assert result.returncode == 2
    assert "--use-feature" in result.stderr
    assert installed(venv) == {}


def test_direct_url_requirement_is_refused(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    url = f"{world.public.url[: -len('simple/')]}packages/requests_lite-2.0.0-py3-none-any.whl"
    result = install(spip_map, venv, env, f"requests-lite @ {url}")
    assert result.returncode == 3
    assert "direct URL" in result.stderr and "spip.toml" in result.stderr
    assert installed(venv) == {}


def test_satisfied_environment_is_a_no_op_without_pip(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("acme-bundle\n")
    assert install(spip_map, venv, env, "-r", str(reqs)).returncode == 0
    assert len(installed(venv)) == 31
    audit = tmp_path / "audit.jsonl"
    private_since = world.private.mark()
    result = install(spip_map, venv, env, "-r", str(reqs), audit_log=audit)
    assert result.returncode == 0, result.stderr
    assert "already satisfied" in result.stdout
    # No subprocess at all: interpreter facts come from the cache, distributions are read
    # from disk, and nothing needs pip.
    children = audit.read_text().splitlines() if audit.exists() else []
    assert children == []
    assert world.private.requests()[private_since:] == []


def test_uv_backend_keeps_the_air_gap(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    result = install(
        spip_map, venv, env, "--installer", "uv", "acme-utils", "publicdep", audit_log=audit
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0", "publicdep": "1.0.0"}
    assert world.marker_files() == []
    uv_runs = [
        json.loads(line)["argv"]
        for line in audit.read_text().splitlines()
        if "uv" in Path(json.loads(line)["argv"][0]).name
    ]
    assert len(uv_runs) == 1
    argv = uv_runs[0]
    for flag in ("--offline", "--no-index", "--no-config", "--require-hashes", "--no-deps"):
        assert flag in argv
    assert world.password not in " ".join(argv)
    assert list((venv.parent.parent / "lib").glob("python3*/site-packages/acme_core/__pycache__"))


def test_pass_through_commands(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert install(spip_map, venv, env, "acme-utils").returncode == 0
    freeze = run_spip(["freeze", "--python", str(venv)], env)
    assert "acme-core==1.1.0" in freeze.stdout
    removed = run_spip(["uninstall", "--python", str(venv), "-y", "acme-utils"], env)
    assert removed.returncode == 0
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_explain(world: World, env: dict[str, str], spip_map: Path) -> None:
    result = run_spip(["explain", "--map", str(spip_map), "ACME_Core", "flask"], env)
    assert result.returncode == 0
    first, second = result.stdout.strip().splitlines()
    assert first.startswith("acme-core -> private") and "acme-*" in first
    assert second.startswith("flask -> public") and "default" in second


def test_auth_set_and_check(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    fresh = dict(env, XDG_DATA_HOME=str(tmp_path / "fresh-keyring"))
    missing = run_spip(["auth", "check", "--map", str(spip_map), "private"], fresh)
    assert missing.returncode == 6 and "requires credentials" in missing.stdout
    import subprocess
    import sys

    stored = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipx_secure",
            "auth",
            "set",
            "--map",
            str(spip_map),
            "private",
            "--stdin",
        ],
        input=world.password + "\n",
        env=fresh,
        capture_output=True,
        text=True,
    )
    assert stored.returncode == 0, stored.stderr
    assert world.password not in stored.stdout + stored.stderr
    ok = run_spip(["auth", "check", "--map", str(spip_map), "private"], fresh)
    assert ok.returncode == 0 and "ok (keyring)" in ok.stdout
    store_password(fresh, world.private.url, USERNAME, "not-the-password")
    refused = run_spip(["auth", "check", "--map", str(spip_map), "private"], fresh)
    assert refused.returncode == 6 and "refused" in refused.stdout
    assert "not-the-password" not in refused.stdout + refused.stderr


def test_auth_import_pypirc(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    fresh = dict(env, XDG_DATA_HOME=str(tmp_path / "fresh-keyring"))
    pypirc = tmp_path / ".pypirc"
    pypirc.write_text(
        "[distutils]\nindex-servers =\n    private\n    pypi\n\n"
        f"[private]\nrepository = {world.private.url}\nusername = {USERNAME}\n"
        f"password = {world.password}\n\n[pypi]\nusername = __token__\npassword = pypi-abc123\n"
    )
    result = run_spip(["auth", "import-pypirc", "--file", str(pypirc), "--remove"], fresh)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert world.password not in output and "pypi-abc123" not in output
    assert f'url = "{world.private.url}"' in result.stdout
    assert world.password not in pypirc.read_text()
    assert "pypi-abc123" in pypirc.read_text()  # skipped section untouched
    ok = run_spip(["auth", "check", "--map", str(spip_map), "private"], fresh)
    assert ok.returncode == 0 and "ok (keyring)" in ok.stdout


def test_user_install_goes_to_the_user_site(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    import sysconfig

    base_python = Path(sysconfig.get_config_var("BINDIR")) / "python3"
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(base_python), "--user", "acme-core"],
        env,
    )
    assert result.returncode == 0, result.stderr
    home = Path(env["HOME"])
    assert list(home.glob(".local/lib/python3*/site-packages/acme_core/__init__.py"))


def _generator(venv: Path, name: str) -> str:
    wheel = next((venv.parent.parent / "lib").glob(f"python3*/site-packages/{name}-*.dist-info"))
    return next(
        line for line in (wheel / "WHEEL").read_text().splitlines() if line.startswith("Generator:")
    )


def test_binary_policies(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    # Default: the newest version, 2.0.0, only an sdist: built offline by spip.
    assert install(spip_map, venv, env, "acme-dual").returncode == 0
    assert installed(venv)["acme-dual"] == "2.0.0"
    preferred = make_venv(tmp_path / "prefer")
    assert install(spip_map, preferred, env, "--prefer-binary", "acme-dual").returncode == 0
    assert installed(preferred)["acme-dual"] == "1.0.0"
    assert "spip-tests" in _generator(preferred, "acme_dual")  # the index's wheel
    source = make_venv(tmp_path / "source")
    result = install(spip_map, source, env, "--no-binary", "acme-dual", "acme-dual==1.0.0")
    assert result.returncode == 0, result.stderr
    assert "spip-test-backend" in _generator(source, "acme_dual")  # built from the sdist


def test_upgrade_strategy_eager(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    assert install(spip_map, venv, env, "acme-core==1.0.0").returncode == 0
    assert install(spip_map, venv, env, "acme-utils").returncode == 0
    assert install(spip_map, venv, env, "-U", "acme-utils").returncode == 0
    assert installed(venv)["acme-core"] == "1.0.0"  # only-if-needed leaves dependencies
    result = install(spip_map, venv, env, "-U", "--upgrade-strategy", "eager", "acme-utils")
    assert result.returncode == 0, result.stderr
    assert installed(venv)["acme-core"] == "1.1.0"


def test_markers_on_the_command_line(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    result = install(
        spip_map, venv, env, "acme-core; python_version < '3'", "acme-utils; python_version >= '3'"
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}


def test_active_virtualenv_is_the_default_target(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    active = dict(env, VIRTUAL_ENV=str(venv.parent.parent))
    result = run_spip(["install", "--map", str(spip_map), "acme-core"], active, cwd=spip_map.parent)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}


def test_quiet_verbose_and_no_input(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    quiet = install(spip_map, venv, env, "-q", "--no-input", "acme-core")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    other = make_venv(tmp_path / "verbose")
    verbose = install(spip_map, other, env, "-v", "acme-core")
    assert verbose.returncode == 0 and "Installed: acme-core 1.1.0 [private]" in verbose.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["install"],
        ["lock"],
        ["sync"],
        ["check"],
        ["audit"],
        ["explain"],
        ["auth"],
        ["auth", "set"],
        ["auth", "check"],
        ["auth", "import-pypirc"],
    ],
)
def test_help_for_every_command(env: dict[str, str], command: list[str]) -> None:
    result = run_spip([*command, "--help"], env)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: spip " + " ".join(command))


def test_progress_on_a_terminal_and_quiet_in_a_pipe(
    world: World, env: dict[str, str], venv: Path, spip_map: Path
) -> None:
    code, screen = run_on_terminal(spip_install_argv(spip_map, venv, "acme-utils"), env)
    assert code == 0
    assert "Resolving" in screen  # the spinner, on a terminal
    piped = install(spip_map, make_venv(venv.parent.parent.parent / "piped"), env, "acme-utils")
    assert "Resolving" not in piped.stdout + piped.stderr


def test_named_file_url_is_a_local_project(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    project = write_local_project(tmp_path / "named", "acme-named", "0.4.0", requires=["acme-core"])
    result = install(spip_map, venv, env, f"acme-named @ {project.resolve().as_uri()}")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"acme-named": "0.4.0", "acme-core": "1.1.0"}
    wrong = install(spip_map, venv, env, f"acme-other @ {project.resolve().as_uri()}")
    assert wrong.returncode == 3 and "is really acme-named" in wrong.stderr


def test_double_verbose_shows_each_request_and_its_credential_decision(
    world: World, env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    import base64

    result = install(spip_map, venv, env, "-vv", "acme-utils", "requests-lite")
    assert result.returncode == 0, result.stderr
    decisions = [x for x in result.stderr.splitlines() if x.startswith("spip: http: GET ")]
    private_origin = world.private.url[: -len("/simple/")]
    public_origin = world.public.url[: -len("/simple/")]
    private = [x for x in decisions if x.startswith(f"spip: http: GET {private_origin}/")]
    public = [x for x in decisions if x.startswith(f"spip: http: GET {public_origin}/")]
    assert any("acme-utils/" in x and "credential of private (keyring" in x for x in private)
    assert any(".whl" in x and "HTTP 200" in x for x in private)
    assert public and all("no credential" in x and "acme" not in x for x in public)
    secret = world.password
    token = base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()
    assert secret not in result.stderr and token not in result.stderr
    once = install(spip_map, make_venv(tmp_path / "once"), env, "-v", "acme-core")
    assert once.returncode == 0 and "spip: http:" not in once.stderr
