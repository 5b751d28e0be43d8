"""Trust nothing on the way: each attack is first shown to work (or be possible), then refused.

Caches that prove themselves (a built wheel, core metadata, a project page, interpreter facts,
a shared cache directory), files only inside the target, builds without a network, module
shadowing across indexes, and metadata that lies about its wheel.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import USERNAME, World
from tests.support.environment import (
    clean_env,
    installed,
    make_venv,
    plain_pip,
    run_spip,
    site_packages,
    store_password,
)
from tests.support.packages import backend_source, build_wheel, metadata_text, write_wheel
from tests.support.servers import start_fault_proxy, start_server, start_static_server
from tests.support.static_index import write_static_index

pytestmark = pytest.mark.slow


def spip(
    spip_map: Path, venv: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return run_spip(
        ["install", "--map", str(spip_map), "--python", str(venv), *args], env, cwd=spip_map.parent
    )


def run_python(venv: Path, code: str) -> str:
    return subprocess.run(
        [str(venv), "-c", code], capture_output=True, text=True, check=True
    ).stdout


# -- caches ---------------------------------------------------------------------------------


def test_poisoned_built_wheel_is_discarded_and_rebuilt(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    first = make_venv(tmp_path / "first")
    assert spip(spip_map, first, env, "acme-built").returncode == 0
    built = next(Path(env["SPIP_CACHE_DIR"]).glob("built/*/*/acme_built-1.0.0-*.whl"))
    marker = tmp_path / "poisoned-pth-ran"
    evil = build_wheel(tmp_path / "evil", "acme-built", "1.0.0", pth_marker=marker)
    built.write_bytes(evil.read_bytes())
    # The attack: whatever installs that cached file runs its code (here: plain pip).
    demo = make_venv(tmp_path / "demo")
    plain_pip(demo, env, "--no-deps", str(built))
    run_python(demo, "pass")
    assert marker.exists()
    marker.unlink()
    # spip: the seal does not verify, the wheel is rebuilt from the verified sdist.
    second = make_venv(tmp_path / "second")
    result = spip(spip_map, second, env, "acme-built")
    assert result.returncode == 0, result.stderr
    assert "a built wheel in the cache failed its check" in result.stderr
    run_python(second, "pass")
    assert not marker.exists()
    assert not list(site_packages(second).glob("*marker.pth"))
    assert installed(second)["acme-built"] == "1.0.0"


def test_poisoned_metadata_and_interpreter_facts_are_discarded(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    first = make_venv(tmp_path / "first")
    assert spip(spip_map, first, env, "acme-utils").returncode == 0
    cache = Path(env["SPIP_CACHE_DIR"])
    poisoned = 0
    for path in cache.glob("metadata/*/*/*.metadata"):
        if b"Name: acme-utils" in path.read_bytes():
            # What an attacker writes: the same metadata, one more dependency, no valid seal.
            text = path.read_bytes().split(b"\n", 1)[1]
            path.write_bytes(
                text.replace(b"Requires-Dist:", b"Requires-Dist: requests-lite\nRequires-Dist:", 1)
            )
            poisoned += 1
    for path in cache.glob("interpreters/*.json"):
        path.write_bytes(path.read_bytes().replace(b'"python_version"', b'"python_version_x"'))
    assert poisoned == 1
    public_since = world.public.mark()
    second = make_venv(tmp_path / "second")
    result = spip(spip_map, second, env, "acme-utils", "--force-reinstall")
    assert result.returncode == 0, result.stderr
    assert "core metadata in the cache failed its check" in result.stderr
    assert installed(second) == {"acme-utils": "1.0.0", "acme-core": "1.1.0"}
    assert "requests-lite" not in world.public.project_requests(public_since)


def test_poisoned_cached_page_is_discarded(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    packages = tmp_path / "packages"
    build_wheel(packages, "acme-core", "1.1.0")
    write_static_index(packages, tmp_path / "static")  # pages with Last-Modified: cached
    server = start_static_server(tmp_path / "static", tmp_path / "static-server")
    try:
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.corp]\nurl = "{server.url}"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-*" = "corp"\n'
        )
        assert spip(spip_map, make_venv(tmp_path / "first"), env, "acme-core").returncode == 0
        pages = [p for p in (Path(env["SPIP_CACHE_DIR"]) / "http").rglob("*") if p.is_file()]
        assert pages
        for page in pages:
            page.write_bytes(page.read_bytes()[:-40] + b"x" * 40)
        second = make_venv(tmp_path / "second")
        result = spip(spip_map, second, env, "acme-core")
        assert result.returncode == 0, result.stderr
        assert "a cached project page failed its check" in result.stderr
        assert installed(second) == {"acme-core": "1.1.0"}
    finally:
        server.stop()


def test_cache_directory_writable_by_others_is_refused(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    cache = Path(env["SPIP_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o777)
    venv = make_venv(tmp_path / "v")
    result = spip(spip_map, venv, env, "acme-core")
    assert result.returncode == 2
    assert "shared with other users" in result.stderr and f"chmod go-rwx {cache}" in result.stderr
    assert installed(venv) == {}


# -- nothing outside the target ---------------------------------------------------------------


def wheel_with_outside_record(directory: Path, outside: Path) -> Path:
    wheel = write_wheel(
        directory,
        "acme-escape",
        "1.0.0",
        {"acme_escape/__init__.py": "X = 1\n"},
        metadata_text("acme-escape", "1.0.0"),
    )
    climb = "../" * 12 + str(outside).lstrip("/")  # deep enough to climb out of any venv
    with zipfile.ZipFile(wheel) as archive:
        contents = {n: archive.read(n) for n in archive.namelist()}
    record = "acme_escape-1.0.0.dist-info/RECORD"
    contents[record] += f"{climb},sha256=AAAA,1\n".encode()
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return wheel


def test_record_paths_outside_the_target_are_refused(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "victim.py"
    outside.parent.mkdir()
    outside.write_text("print('victim')\n")
    packages = tmp_path / "packages"
    wheel_with_outside_record(packages, outside)
    private = start_server(
        packages, tmp_path / "private", username=USERNAME, password=world.password
    )
    try:
        # Possible: pip installs it and keeps the row, so whatever compiles what RECORD lists
        # (spip's parallel byte-compiler did) writes next to the victim.
        demo = make_venv(tmp_path / "demo")
        plain_pip(demo, env, next(packages.glob("*.whl")).as_posix())
        record = next(site_packages(demo).glob("acme_escape-*.dist-info")) / "RECORD"
        assert "victim.py" in record.read_text()
        store_password(env, private.url, USERNAME, world.password)
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.corp]\nurl = "{private.url}"\nusername = "{USERNAME}"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-*" = "corp"\n'
        )
        venv = make_venv(tmp_path / "target")
        result = spip(spip_map, venv, env, "acme-escape")
        assert result.returncode == 7
        assert "acme-escape" in result.stderr and "victim.py" in result.stderr
        assert "outside the install" in result.stderr
        assert installed(venv) == {}
        assert not (outside.parent / "__pycache__").exists()
    finally:
        private.stop()


# -- builds without a network -----------------------------------------------------------------

_PROBE = r"""
import json as _json, os as _os, socket as _socket, urllib.request as _request


def _try(what, action):
    try:
        action()
        return "reached"
    except _request.HTTPError:  # an answer from the server: reached
        return "reached"
    except Exception as exc:  # every other failure is the point
        return type(exc).__name__


def _probe():
    public, private = __PUBLIC__, __PRIVATE__
    direct = _request.build_opener(_request.ProxyHandler({}))
    results = {
        "direct": _try("direct", lambda: direct.open(public + "build-probe-direct/", timeout=3)),
        "proxy": _try("proxy", lambda: _request.urlopen(public + "build-probe-proxy/", timeout=3)),
        "socket": _try(
            "socket", lambda: _socket.create_connection(("127.0.0.1", __PRIVATE_PORT__), timeout=3)
        ),
        "env": {k: _os.environ.get(k) for k in ("HOME", "HTTP_PROXY", "http_proxy",
                                                 "KEYRING_PROPERTY_FILE_PATH", "NETRC")},
    }
    with open(__OUT__, "w") as handle:
        _json.dump(results, handle)


_probe()
"""


def probing_sdist(directory: Path, out: Path, world: World) -> Path:
    """An sdist whose in-tree build backend tries the network when it is imported."""
    probe = (
        _PROBE.replace("__PUBLIC__", repr(world.public.url))
        .replace("__PRIVATE__", repr(world.private.url))
        .replace("__PRIVATE_PORT__", str(world.private.port))
        .replace("__OUT__", repr(str(out)))
    )
    base = "acme_probe-1.0.0"
    files = {
        f"{base}/PKG-INFO": metadata_text("acme-probe", "1.0.0", metadata_version="2.1"),
        f"{base}/pyproject.toml": "[build-system]\nrequires = []\n"
        'build-backend = "_spip_test_backend"\nbackend-path = ["_backend"]\n',
        f"{base}/_backend/_spip_test_backend.py": backend_source(None) + probe,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1704067200
            archive.addfile(info, io.BytesIO(data))
    return path


def test_build_backends_reach_no_network(world: World, tmp_path: Path) -> None:
    proxy = start_fault_proxy(world.public.url[: -len("/simple/")], tmp_path / "proxy")
    packages = tmp_path / "packages"
    out = tmp_path / "probe.json"
    sdist = probing_sdist(packages, out, world)
    private = start_server(
        packages, tmp_path / "private", username=USERNAME, password=world.password
    )
    try:
        env = clean_env(tmp_path)
        env.update(
            HTTP_PROXY=proxy.origin, http_proxy=proxy.origin, KEYRING_PROPERTY_FILE_PATH="/x"
        )
        for name in ("NO_PROXY", "no_proxy"):
            env.pop(name)
        # The attack: plain pip runs the backend with the user's environment; it reaches the
        # public index directly, through the proxy, and opens a socket to the private index.
        demo = make_venv(tmp_path / "demo")
        plain_pip(demo, env, "--no-index", str(sdist), check=False)
        shown = json.loads(out.read_text())
        assert shown["direct"] == "reached" and shown["socket"] == "reached"
        assert any("build-probe-proxy" in str(e["path"]) for e in proxy.requests())
        out.unlink()
        # spip: the same backend, built from the private index, reaches nothing.
        store_password(env, private.url, USERNAME, world.password)
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.corp]\nurl = "{private.url}"\nusername = "{USERNAME}"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-*" = "corp"\n'
        )
        proxy_since, public_since = len(proxy.requests()), world.public.mark()
        venv = make_venv(tmp_path / "target")
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # spip's own traffic is local
        result = spip(spip_map, venv, env, "-v", "acme-probe")
        assert result.returncode == 0, result.stderr
        assert "build backends run with" in result.stderr
        probed = json.loads(out.read_text())
        assert probed["direct"] != "reached" and probed["proxy"] != "reached"
        assert probed["socket"] != "reached"
        assert proxy.requests()[proxy_since:] == []
        assert not any(
            "build-probe" in str(e["path"]) for e in world.public.requests()[public_since:]
        )
        assert (
            probed["env"]["HOME"] != env["HOME"]
            and probed["env"]["KEYRING_PROPERTY_FILE_PATH"] is None
        )
        assert probed["env"]["HTTP_PROXY"] != proxy.origin
        assert installed(venv) == {"acme-probe": "1.0.0"}
    finally:
        private.stop()
        proxy.stop()


# -- module shadowing ---------------------------------------------------------------------------


def test_module_shadowing_across_indexes_is_refused(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    public_packages = tmp_path / "public"
    build_wheel(
        public_packages,
        "innocent-tool",
        "1.0.0",
        modules={"acme_core/__init__.py": "VERSION = 'SHADOWED BY PUBLIC CODE'\n"},
    )
    public = start_server(public_packages, tmp_path / "public-server")
    try:
        # The attack with plain pip: the public package replaces the private module's code.
        demo = make_venv(tmp_path / "demo")
        netrc = Path(env["HOME"]) / ".netrc"
        netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {world.password}\n")
        netrc.chmod(0o600)
        for name in ("acme-core", "innocent-tool"):
            plain_pip(
                demo,
                env,
                "--index-url",
                world.private.url,
                "--extra-index-url",
                public.url,
                name,
            )
        netrc.unlink()
        assert "SHADOWED" in run_python(demo, "import acme_core; print(acme_core.VERSION)")
        # spip: acme-core from private, innocent-tool (correctly) from public: refused.
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.private]\nurl = "{world.private.url}"\n'
            f'username = "{USERNAME}"\n[indexes.public]\nurl = "{public.url}"\n'
            '[packages]\n"acme-*" = "private"\n'
        )
        venv = make_venv(tmp_path / "target")
        assert spip(spip_map, venv, env, "acme-core").returncode == 0
        before = hashlib.sha256((site_packages(venv) / "acme_core" / "__init__.py").read_bytes())
        refused = spip(spip_map, venv, env, "innocent-tool")
        assert refused.returncode == 7
        assert "innocent-tool" in refused.stderr and "acme_core/__init__.py" in refused.stderr
        assert "acme-core" in refused.stderr and "shadowing" in refused.stderr
        after = hashlib.sha256((site_packages(venv) / "acme_core" / "__init__.py").read_bytes())
        assert before.hexdigest() == after.hexdigest()
        assert run_python(venv, "import acme_core; print(acme_core.VERSION)").strip() == "1.1.0"
        both = make_venv(tmp_path / "both")
        together = spip(spip_map, both, env, "acme-core", "innocent-tool")
        assert together.returncode == 7 and installed(both) == {}
        assert "--allow-overwrite innocent-tool" in refused.stderr  # the way out, named
        # A known case, allowed by name on the command line, then in the map.
        allowed = spip(spip_map, venv, env, "--allow-overwrite", "Innocent_Tool", "innocent-tool")
        assert allowed.returncode == 0, allowed.stderr
        assert "SHADOWED" in run_python(venv, "import acme_core; print(acme_core.VERSION)")
        spip_map.write_text(
            spip_map.read_text() + '[install]\nallow-overwrite = ["innocent-tool"]\n'
        )
        mapped = spip(spip_map, both, env, "acme-core", "innocent-tool")
        assert mapped.returncode == 0, mapped.stderr
        assert set(installed(both)) == {"acme-core", "innocent-tool"}
        spip_map.write_text(spip_map.read_text().replace('["innocent-tool"]', '"innocent-tool"'))
        bad = spip(spip_map, make_venv(tmp_path / "bad"), env, "acme-core")
        assert bad.returncode == 2 and "allow-overwrite" in bad.stderr and "spip.toml" in bad.stderr
        # Allowing a distribution to overwrite lets *it* write; it does not open its own files
        # to every other index: the public package still may not replace acme-core's code.
        spip_map.write_text(spip_map.read_text().replace('"innocent-tool"\n', '["acme-core"]\n'))
        guarded = make_venv(tmp_path / "guarded")
        assert spip(spip_map, guarded, env, "acme-core").returncode == 0
        replaced = spip(spip_map, guarded, env, "innocent-tool")
        assert replaced.returncode == 7, replaced.stderr
        assert "acme_core/__init__.py" in replaced.stderr and installed(guarded) == {
            "acme-core": "1.1.0"
        }
    finally:
        public.stop()


# -- metadata that lies -------------------------------------------------------------------------


def test_metadata_file_that_disagrees_with_its_wheel_is_refused(
    world: World, env: dict[str, str], tmp_path: Path
) -> None:
    tree = tmp_path / "static"
    wheel = build_wheel(tree / "files", "acme-meta", "1.0.0")
    lying = metadata_text("acme-meta", "1.0.0", ["requests-lite"]).encode()
    (tree / "files" / (wheel.name + ".metadata")).write_bytes(lying)
    page = tree / "simple" / "acme-meta"
    page.mkdir(parents=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    meta_digest = hashlib.sha256(lying).hexdigest()
    page.joinpath("index.html").write_text(
        f'<a href="../../files/{wheel.name}#sha256={digest}" '
        f'data-core-metadata="sha256={meta_digest}">{wheel.name}</a>\n'
    )
    server = start_static_server(tree, tmp_path / "static-server")
    try:
        spip_map = tmp_path / "spip.toml"
        spip_map.write_text(
            f'default = "public"\n[indexes.meta]\nurl = "{server.url}"\n'
            f'[indexes.public]\nurl = "{world.public.url}"\n[packages]\n"acme-meta" = "meta"\n'
        )
        public_since = world.public.mark()
        venv = make_venv(tmp_path / "target")
        result = spip(spip_map, venv, env, "acme-meta")
        # The lie steered resolution (the public index was asked about requests-lite) ...
        assert "requests-lite" in world.public.project_requests(public_since)
        # ... but the wheel's own METADATA says otherwise: refused before anything installs.
        assert result.returncode == 7
        assert "disagrees with the artifact's own METADATA" in result.stderr
        assert "requests-lite" in result.stderr and installed(venv) == {}
    finally:
        server.stop()


# -- the installer's own cache --------------------------------------------------------------------


def test_uv_installs_nothing_from_a_cache_an_attacker_wrote(
    world: World, env: dict[str, str], spip_map: Path, tmp_path: Path
) -> None:
    # The attack: a uv cache kept across runs holds unpacked wheels that uv trusts without
    # hashing them again; whoever writes that cache (a CI cache restored from shared storage)
    # edits the code of every later install.  Shown with uv itself and a persistent cache.
    uv_cache = tmp_path / "uv-cache"
    wheel = build_wheel(tmp_path / "wheels", "acme-cached", "1.0.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = tmp_path / "req.txt"
    requirements.write_text(f"acme-cached==1.0.0 --hash=sha256:{digest}\n")
    uv = [sys.executable, "-m", "uv", "pip", "install", "--offline", "--no-index"]
    uv += ["--find-links", str(wheel.parent), "--cache-dir", str(uv_cache), "--require-hashes"]

    def uv_install(venv: Path) -> None:
        command = [*uv, "--python", str(venv), "-r", str(requirements)]
        subprocess.run(command, env=env, check=True, capture_output=True)

    uv_install(make_venv(tmp_path / "first"))
    unpacked = [p for p in uv_cache.rglob("acme_cached/__init__.py")]
    assert unpacked, "uv keeps the unpacked wheel in its cache"
    for path in unpacked:
        path.unlink()  # break the hard link to the first install
        path.write_text("VERSION = 'TAMPERED IN THE CACHE'\n")
    second = make_venv(tmp_path / "second")
    uv_install(second)
    assert "TAMPERED" in run_python(second, "import acme_cached; print(acme_cached.VERSION)")
    # spip --installer uv: whatever its cache directory holds, the installed code is the
    # verified wheel's.
    cache = Path(env["SPIP_CACHE_DIR"])
    first = make_venv(tmp_path / "spip-first")
    assert spip(spip_map, first, env, "--installer", "uv", "acme-core").returncode == 0
    # Plant the edit wherever an unpacked copy could be: every file of that name in the cache.
    planted = list(cache.rglob("acme_core/__init__.py"))
    for path in planted:
        path.unlink()
        path.write_text("VERSION = 'TAMPERED IN THE CACHE'\n")
    again = make_venv(tmp_path / "spip-again")
    result = spip(spip_map, again, env, "--installer", "uv", "acme-core")
    assert result.returncode == 0, result.stderr
    installed_source = site_packages(again) / "acme_core" / "__init__.py"
    assert "TAMPERED" not in installed_source.read_text()
    assert run_python(again, "import acme_core; print(acme_core.VERSION)").strip() == "1.1.0"
    assert not list(cache.glob(".uv-run-*")), "uv's cache for the run is removed"
