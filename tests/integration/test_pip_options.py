"""Every option of pip install, run through spip: refused ones name themselves, the others
are accepted and, where they change something, show it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipx_secure.cli.pip_install import PIP_INSTALL, PipOption, Support
from tests.conftest import World
from tests.support.environment import installed, make_venv, run_spip, site_packages

pytestmark = pytest.mark.slow


def sample(option: PipOption, tmp_path: Path, world: World) -> list[str]:
    """The option as a user would type it, with a value where it takes one."""
    values = {
        "--requirement": str(tmp_path / "req.txt"),
        "--constraint": str(tmp_path / "constraints.txt"),
        "--build-constraint": str(tmp_path / "constraints.txt"),
        "--requirements-from-script": str(tmp_path / "script.py"),
        "--editable": str(tmp_path / "missing-on-purpose"),
        "--target": str(tmp_path / "target-dir"),
        "--platform": "manylinux_2_17_x86_64",
        "--python-version": "3.11",
        "--implementation": "cp",
        "--abi": "cp311",
        "--root": str(tmp_path / "root-dir"),
        "--prefix": str(tmp_path / "prefix-dir"),
        "--src": str(tmp_path / "src"),
        "--upgrade-strategy": "eager",
        "--config-settings": "key=value",
        "--progress-bar": "off",
        "--root-user-action": "ignore",
        "--report": str(tmp_path / "report.json"),
        "--group": f"{tmp_path / 'pyproject.toml'}:dev",
        "--all-releases": "acme-core",
        "--only-final": ":all:",
        "--no-binary": ":none:",
        "--only-binary": ":all:",
        "--refresh-package": "acme-core",
        "--uploaded-prior-to": "2099-01-01T00:00:00Z",
        "--python": "",  # filled by the caller
        "--log": str(tmp_path / "pip.log"),
        "--keyring-provider": "auto",
        "--proxy": "",  # no proxy: an empty value, as pip allows
        "--retries": "1",
        "--timeout": "30",
        "--exists-action": "i",
        "--cert": str(tmp_path / "ca.pem"),
        "--client-cert": str(tmp_path / "client.pem"),
        "--cache-dir": str(tmp_path / "own-cache"),
        "--resume-retries": "1",
        "--index-url": world.public.url,
        "--extra-index-url": world.public.url,
        "--find-links": str(tmp_path),
        "--trusted-host": "127.0.0.1",
        "--use-feature": "fast-deps",
        "--use-deprecated": "legacy-certs",
    }
    action = option.arg.get("action")
    if option.support is Support.REFUSED and option.long == "--no-index":
        return [option.names[0]]
    if action in ("store_true", "store_false", "count"):
        return [option.names[-1]]
    return [option.names[-1], values[option.long]]


def prepare(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("acme-core\n")
    (tmp_path / "constraints.txt").write_text("acme-core<2\n")
    (tmp_path / "script.py").write_text(
        "# /// script\n# dependencies = ['acme-core']\n# ///\nprint('hi')\n"
    )
    (tmp_path / "pyproject.toml").write_text('[dependency-groups]\ndev = ["acme-core"]\n')
    import shutil

    import certifi

    shutil.copyfile(certifi.where(), tmp_path / "ca.pem")
    from tests.support.certificates import combine_pem, make_ca, make_client_cert

    ca, key = make_ca(tmp_path / "pki")
    combine_pem(*make_client_cert(tmp_path / "pki", ca, key), tmp_path / "client.pem")


@pytest.mark.parametrize(
    "option", [o for o in PIP_INSTALL if o.long != "--help"], ids=lambda o: o.long
)
def test_every_pip_install_option(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path, option: PipOption
) -> None:
    prepare(tmp_path)
    venv = make_venv(tmp_path / "venv")
    args = sample(option, tmp_path, world)
    if option.long == "--python":
        args[-1] = str(venv)
    base = ["install", "--map", str(spip_map)]
    if option.long != "--python":
        base += ["--python", str(venv)]
    if option.long in ("--platform", "--python-version", "--implementation", "--abi"):
        args += ["--target", str(tmp_path / "target-dir"), "--only-binary", ":all:"]
    requirement = [] if option.long in ("--editable",) else ["acme-core"]
    result = run_spip([*base, "--dry-run", *args, *requirement], env, cwd=tmp_path)
    if option.support is Support.REFUSED:
        assert result.returncode == 2, result.stderr
        assert args[0] in result.stderr and "hint" in result.stderr
        assert installed(venv) == {}
        return
    if option.long == "--editable":  # a path that does not exist: refused, naming it
        assert result.returncode == 3 and "missing-on-purpose" in result.stderr
        return
    if option.long == "--require-hashes":  # took effect: the requirement has no hash
        assert result.returncode == 2 and "hash-checking mode" in result.stderr
        return
    if option.long == "--uploaded-prior-to":  # took effect: this index gives no upload times
        assert result.returncode == 3 and "publishes no upload time" in result.stderr
        return
    assert result.returncode == 0, (args, result.stderr)
    assert "Traceback" not in result.stderr
    assert installed(venv) == {}  # --dry-run: nothing installed, whatever the option
    if option.long == "--report":
        report = json.loads((tmp_path / "report.json").read_text())
        assert [i["metadata"]["name"] for i in report["install"]] == ["acme-core"]
    if option.long == "--cache-dir":
        assert any((tmp_path / "own-cache").rglob("*.metadata"))


def test_options_that_change_what_is_installed(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    prepare(tmp_path)
    venv = make_venv(tmp_path / "v1")
    only = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), "--only-deps", "acme-utils"],
        env,
        cwd=tmp_path,
    )
    assert only.returncode == 0, only.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}  # what acme-utils needs, not it
    script = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(make_venv(tmp_path / "v2")),
            "--requirements-from-script",
            str(tmp_path / "script.py"),
            "--log",
            str(tmp_path / "pip.log"),
        ],
        env,
        cwd=tmp_path,
    )
    assert script.returncode == 0, script.stderr
    assert installed(tmp_path / "v2" / "bin" / "python") == {"acme-core": "1.1.0"}
    assert (tmp_path / "pip.log").read_text()  # pip's log went where asked
    group = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(make_venv(tmp_path / "v3")),
            "--group",
            "dev",
            "--only-final",
            ":all:",
        ],
        env,
        cwd=tmp_path,
    )
    assert group.returncode == 0, group.stderr
    assert installed(tmp_path / "v3" / "bin" / "python") == {"acme-core": "1.1.0"}
    beta = run_spip(
        [
            "install",
            "--map",
            str(spip_map),
            "--python",
            str(make_venv(tmp_path / "v4")),
            "--all-releases",
            "acme-beta",
            "acme-beta",
        ],
        env,
        cwd=tmp_path,
    )
    assert beta.returncode == 0, beta.stderr
    assert installed(tmp_path / "v4" / "bin" / "python") == {"acme-beta": "2.0.0b1"}


@pytest.mark.parametrize("where", ["--target", "--prefix", "--root", "--user"])
def test_location_options_judge_what_is_installed_there(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path, where: str
) -> None:
    import subprocess
    import sys

    venv = make_venv(tmp_path / "venv")
    if where == "--user":  # pip refuses --user where the user site is invisible: let it see it
        subprocess.run(
            [
                sys.executable,
                "-m",
                "venv",
                "--without-pip",
                "--system-site-packages",
                str(tmp_path / "venv"),
            ],
            check=True,
        )
    first = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"], env, cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    location = tmp_path / "elsewhere"
    args = ["--user"] if where == "--user" else [where, str(location)]
    user_env = dict(env, PYTHONUSERBASE=str(location))
    result = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *args, "acme-core"],
        user_env if where == "--user" else env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing to install" not in result.stdout  # the interpreter's copy does not count
    inits = [p for p in location.rglob("acme_core/__init__.py")]
    assert inits, (result.stdout, result.stderr)
    again = run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *args, "acme-core"],
        user_env if where == "--user" else env,
        cwd=tmp_path,
    )
    assert again.returncode == 0 and "Nothing to install" in again.stdout
    assert installed(venv) == {"acme-core": "1.1.0"}
    assert os.path.exists(site_packages(venv))


def test_cooldown_refuses_files_uploaded_after_it(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    from tests.support.servers import start_fault_proxy

    proxy = start_fault_proxy(world.private.url[: -len("/simple/")], tmp_path / "proxy")
    try:
        packages = {p.name: p for p in world.private.root.glob("acme_core-*.whl")}
        import hashlib

        def entry(name: str, uploaded: str | None) -> dict[str, object]:
            data = packages[name].read_bytes()
            item: dict[str, object] = {
                "filename": name,
                "url": f"/packages/{name}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            }
            if uploaded:
                item["upload-time"] = uploaded
            return item

        page = {
            "meta": {"api-version": "1.1"},
            "name": "acme-core",
            "files": [
                entry("acme_core-1.0.0-py3-none-any.whl", "2026-01-01T00:00:00Z"),
                entry("acme_core-1.1.0-py3-none-any.whl", "2026-11-20T00:00:00Z"),
            ],
        }
        rule = {
            "path": r"^/simple/acme-core/",
            "fault": "body",
            "content_type": "application/vnd.pypi.simple.v1+json",
            "body": json.dumps(page),
        }
        proxy.set_rules([rule])
        from tests.conftest import USERNAME
        from tests.support.environment import store_password

        store_password(env, proxy.url, USERNAME, world.password)
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.private]\nurl = "{proxy.url}"\nusername = "{USERNAME}"\n'
            'exclude-newer = "2026-06-01T00:00:00Z"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-*" = "private"\n'
        )
        venv = make_venv(tmp_path / "v")
        result = run_spip(
            ["install", "--map", str(spip_map), "--python", str(venv), "acme-core"],
            env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert installed(venv) == {"acme-core": "1.0.0"}  # 1.1.0 is too new
        other = make_venv(tmp_path / "w")
        flag = run_spip(
            [
                "install",
                "--map",
                str(spip_map),
                "--python",
                str(other),
                "--uploaded-prior-to",
                "2025-01-01",
                "acme-core",
            ],
            env,
            cwd=tmp_path,
        )
        assert flag.returncode == 4 and "uploaded" in flag.stderr
        # An index that gives no upload time cannot honour it: refused, saying so.
        page["files"] = [entry("acme_core-1.0.0-py3-none-any.whl", None)]
        proxy.set_rules([dict(rule, body=json.dumps(page))])
        third = make_venv(tmp_path / "x")
        refused = run_spip(
            ["install", "--map", str(spip_map), "--python", str(third), "acme-core"],
            env,
            cwd=tmp_path,
        )
        assert refused.returncode == 3 and "publishes no upload time" in refused.stderr
        assert installed(third) == {}
    finally:
        proxy.stop()


def test_script_requires_python_is_checked_against_the_target(
    env: dict[str, str], venv: Path, spip_map: Path, tmp_path: Path
) -> None:
    script = tmp_path / "future.py"
    script.write_text(
        "# /// script\n# requires-python = '>=4'\n# dependencies = ['acme-core']\n# ///\n"
    )
    argv = ["install", "--map", str(spip_map), "--python", str(venv)]
    refused = run_spip([*argv, "--requirements-from-script", str(script)], env)
    assert refused.returncode == 4, refused.stderr
    assert refused.stderr.count("\n") == 1 and "future.py requires Python >=4" in refused.stderr
    assert "--ignore-requires-python" in refused.stderr and installed(venv) == {}
    forced = run_spip(
        [*argv, "--ignore-requires-python", "--requirements-from-script", str(script)], env
    )
    assert forced.returncode == 0, forced.stderr
    assert installed(venv) == {"acme-core": "1.1.0"}
    script.write_text("# /// script\n# requires-python = '>=3,<<'\n# dependencies = ['x']\n# ///\n")
    bad = run_spip([*argv, "--requirements-from-script", str(script)], env)
    assert bad.returncode == 2 and "future.py" in bad.stderr and "requires-python" in bad.stderr
