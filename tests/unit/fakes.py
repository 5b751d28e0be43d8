"""In-process fakes of spip's two doors to the world: the transport and the process door.

:class:`FakeTransport` serves project pages, PEP 658 metadata files and artifacts from a
catalogue of real wheel and sdist files (built with :mod:`tests.support.packages`) held in
memory per index URL; every request is recorded as ``(index name, what, name or filename)`` so
a test can say which index was asked about which name.  :class:`FakeProcesses` is the process
door with ``_spawn`` replaced: it answers the interpreter probe with facts about a fake target
whose site-packages is a temporary directory, "installs" what the generated requirements file
pins by writing dist-info directories, and answers the byte-compiler.  :func:`make_rig` wires
both into a :class:`~pipx_secure.commands.context.Services` with a temporary cache, a source
map on disk and a hostile environment.  Nothing here opens a socket or starts a process.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename

from pipx_secure.commands.context import Services, SilentReporter
from pipx_secure.config.credentials import CredentialStore
from pipx_secure.errors import IntegrityError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.ranges import ByteRange
from pipx_secure.index.seal import Sealer
from pipx_secure.install.builder import Builder
from pipx_secure.install.process import ChildKind, Completed, Processes
from pipx_secure.install.target import probe
from pipx_secure.install.wheelhouse import WheelFile
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.hashes import Digest
from pipx_secure.model.simple_api import FileLink, ProjectPage
from pipx_secure.model.sourcemap import Index
from tests.support.packages import build_wheel, module_name

T = TypeVar("T")

PRIVATE_URL = "https://private.example/simple/"
PUBLIC_URL = "https://public.example/simple/"
USERNAME = "ci-bot"
SECRET = "unit-S3cret-7f3a9c"
SECRET_B64 = base64.b64encode(f"{USERNAME}:{SECRET}".encode()).decode("ascii")

#: index URL -> normalized project name -> files served for it.
Catalogue = Mapping[str, Mapping[str, Sequence[Path]]]

MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.7",
    "python_version": "3.11",
    "sys_platform": "linux",
}
TAGS = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_17_x86_64", "py3-none-any")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_metadata(path: Path) -> bytes:
    """The METADATA member of a wheel (the first ``*.dist-info/METADATA``)."""
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(member)


# -- the transport --------------------------------------------------------------------------


class Request(NamedTuple):
    """One request the fake transport answered."""

    index: str  # index name ("direct-url" for fetch_url)
    what: str  # "page", "metadata", "download", "url" or "access"
    name: str  # normalized project name, or the file name / URL
    authenticated: bool = False  # whether a credential existed for the index


class FakeTransport:
    """A :class:`~pipx_secure.index.transport.Transport` over an in-memory catalogue."""

    def __init__(
        self,
        catalogue: Catalogue,
        cache: ArtifactCache,
        *,
        pep658: bool | Iterable[str] = False,
        direct: Mapping[str, Path] | None = None,
    ) -> None:
        self.catalogue = {
            url: {canonicalize_name(n): list(files) for n, files in projects.items()}
            for url, projects in catalogue.items()
        }
        self.cache = cache
        self.pep658 = pep658 if isinstance(pep658, bool) else frozenset(pep658)
        self.direct = dict(direct or {})
        self.credentials: CredentialStore | None = None
        self.requests: list[Request] = []
        self.tampered: dict[str, bytes] = {}
        self.metadata_files: dict[str, bytes] = {}
        self.closed = 0
        self.opened = 0
        self.anonymous_opened = 0
        self.ranges = True

    # -- configuration ------------------------------------------------------------------
    def serve_other_bytes(self, filename: str, data: bytes) -> None:
        """From now on, answer downloads of ``filename`` with ``data`` (a tampered file)."""
        self.tampered[filename] = data

    def serve_metadata(self, filename: str, data: bytes) -> None:
        """Offer ``data`` (and its hash) as the PEP 658 metadata file of ``filename``."""
        self.metadata_files[filename] = data

    def factory(
        self, credentials: CredentialStore | None, cache: ArtifactCache, http_cache: bool
    ) -> FakeTransport:
        """A ``Services.transport_factory``: this transport, with the credentials given."""
        self.cache = cache
        self.credentials = credentials
        self.opened += 1
        if credentials is None:
            self.anonymous_opened += 1
        return self

    # -- queries for tests --------------------------------------------------------------
    def asked(self, what: str = "page") -> list[tuple[str, str]]:
        """(index name, name) of every request of kind ``what``, in order."""
        return [(r.index, r.name) for r in self.requests if r.what == what]

    def _record(self, index: Index, what: str, name: str) -> None:
        authenticated = False
        if self.credentials is not None and index.name != "direct-url":
            # As the real transport does: the index's credential is looked up per request.
            authenticated = self.credentials.for_index(index) is not None
        self.requests.append(Request(index.name, what, name, authenticated))

    def _files(self, index: Index, name: NormalizedName) -> list[Path]:
        return self.catalogue.get(index.url, {}).get(name, [])

    def _file(self, index: Index, filename: str) -> Path:
        for files in self.catalogue.get(index.url, {}).values():
            for path in files:
                if path.name == filename:
                    return path
        raise AssertionError(f"fake index {index.name} has no file {filename}")

    def _metadata_of(self, path: Path) -> bytes:
        return self.metadata_files.get(path.name) or wheel_metadata(path)

    def _offers_metadata(self, path: Path) -> bool:
        if path.name in self.metadata_files:
            return True
        if not path.name.endswith(".whl"):
            return False
        if isinstance(self.pep658, bool):
            return self.pep658
        return path.name in self.pep658

    def link_for(self, index: Index, path: Path) -> FileLink:
        """The link the fake page lists for ``path`` (real sha256; PEP 658 hash if offered)."""
        metadata = None
        if self._offers_metadata(path):
            metadata = {"sha256": hashlib.sha256(self._metadata_of(path)).hexdigest()}
        base = index.url.rstrip("/").rsplit("/", 1)[0]
        return FileLink(
            filename=path.name,
            url=f"{base}/files/{path.name}",
            hashes={"sha256": sha256_of(path)},
            metadata=metadata,
            size=path.stat().st_size,
            upload_time="2024-01-01T00:00:00Z",
        )

    # -- the Transport protocol ---------------------------------------------------------
    def project_page(self, index: Index, name: NormalizedName) -> ProjectPage:
        self._record(index, "page", name)
        links = tuple(self.link_for(index, p) for p in self._files(index, name))
        return ProjectPage(name, index.project_url(name), links, (), "1.1")

    def metadata_file(self, index: Index, link: FileLink) -> bytes | None:
        if link.metadata is None:
            return None
        self._record(index, "metadata", link.filename)
        data = self._metadata_of(self._file(index, link.filename))
        expected = link.metadata.get("sha256")
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise IntegrityError(f"hash mismatch for metadata of {link.filename}")
        return data

    def download(self, index: Index, link: FileLink) -> Path:
        expected = Digest("sha256", link.hashes["sha256"])
        found = self.cache.lookup(expected, link.filename)
        if found is not None:
            return found
        self._record(index, "download", link.filename)
        data = self.tampered.get(link.filename)
        if data is None:
            data = self._file(index, link.filename).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if not expected.matches(actual):
            raise IntegrityError(
                f"hash mismatch for {link.filename} from index {index.name}: "
                f"published {expected}, served sha256:{actual}"
            )
        fd, temp = self.cache.temp_file(expected)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return self.cache.commit(temp, expected, link.filename)

    def fetch_url(self, url: str, expected: Digest, dest: Path, what: str) -> None:
        self.requests.append(Request("direct-url", "url", url))
        data = self.direct[url].read_bytes()
        if not expected.matches(hashlib.new(expected.algorithm, data).hexdigest()):
            raise IntegrityError(f"{what}: hash mismatch for {url}")
        dest.write_bytes(data)

    def check_access(self, index: Index) -> None:
        self._record(index, "access", "")

    def read_range(
        self, index: Index, link: FileLink, first: int, last: int | None
    ) -> ByteRange | None:
        """A range of the file, as an index that supports ranges answers (None: no support)."""
        self._record(index, "range", link.filename)
        if not self.ranges:
            return None
        data = self._file(index, link.filename).read_bytes()
        start = max(0, len(data) + first) if first < 0 else first
        end = len(data) - 1 if first < 0 or last is None else min(last, len(data) - 1)
        return ByteRange(start, data[start : end + 1], len(data))

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(function(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        self.closed += 1


# -- the process door -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One child spip asked for."""

    argv: tuple[str, ...]
    env: dict[str, str]
    input: str | None
    kind: str  # "probe", "pip-install", "pip-uninstall", "compile" or "other"


def _kind(argv: Sequence[str]) -> str:
    if "-c" in argv:
        script = argv[argv.index("-c") + 1]
        if "spip-audit-target" in script:
            return "audit"
        if "sys_tags" in script:
            return "probe"
        if "marshal.dumps" in script:
            return "compile"
    if len(argv) > 2 and (argv[1:3] == ("-m", "pip") or argv[1].endswith("__pip-runner__.py")):
        if "install" in argv:
            return "pip-install"
        if "uninstall" in argv:
            return "pip-uninstall"
    return "other"


def _is_dist(filename: str) -> bool:
    return filename.endswith((".whl", ".tar.gz", ".zip"))


def _option(argv: Sequence[str], name: str) -> str:
    return argv[argv.index(name) + 1]


class FakeProcesses(Processes):
    """The process door with ``_spawn`` faked: a probe, an installer and a compiler."""

    def __init__(
        self,
        environ: Mapping[str, str],
        secrets: Callable[[], Sequence[str]] = tuple,
        *,
        site: Path,
        prefix: Path,
    ) -> None:
        super().__init__(environ, secrets)
        self.site = site
        self.prefix = prefix
        self.calls: list[Call] = []
        self.requirement_texts: list[str] = []
        self.wheelhouses: list[list[str]] = []  # the distributions pip could see, per run
        self.pip_failure: str | None = None

    def fail_pip(self, message: str = "ERROR: fake pip refused the install") -> None:
        """Make every later pip install exit with status 1 and ``message``."""
        self.pip_failure = message

    def of_kind(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]

    def facts(self) -> dict[str, Any]:
        """The probe's JSON answer (the shape ``InterpreterFacts.from_json`` reads)."""
        return {
            "executable": str(self.prefix / "bin" / "python"),
            "markers": dict(MARKERS),
            "tags": list(TAGS),
            "sys_path": [str(self.site)],
            "prefix": str(self.prefix),
            "scheme": {
                "purelib": str(self.site),
                "platlib": str(self.site),
                "scripts": str(self.prefix / "bin"),
                "data": str(self.prefix),
            },
            "user_site": str(self.prefix / "user-site"),
            "user_base": str(self.prefix / "user"),
            "virtualenv": True,
            "magic": importlib.util.MAGIC_NUMBER.hex(),
            "cache_tag": sys.implementation.cache_tag,
        }

    def _spawn(
        self,
        argv: tuple[str, ...],
        child: ChildKind,
        env: dict[str, str],
        cwd: Path | str | None,
        input: str | None,
        timeout: float | None,
        log: Path | None,
    ) -> Completed:
        kind = _kind(argv)
        self.calls.append(Call(argv, dict(env), input, kind))
        if kind == "probe":
            return Completed(argv, 0, json.dumps(self.facts()), "")
        if kind == "compile":
            return Completed(argv, 0, self._compile(json.loads(input or "{}")), "")
        if kind == "audit":
            return Completed(argv, 0, json.dumps(self._audit(json.loads(input or "{}"))), "")
        if kind == "pip-install":
            return self._pip_install(argv)
        if kind == "pip-uninstall":
            return self._pip_uninstall(argv)
        return Completed(argv, 127, "", f"fake: cannot run {argv[0]}")

    @staticmethod
    def _compile(request: dict[str, Any]) -> str:
        """spip's byte-compiler, run in this process (this interpreter is the fake target's)."""
        from pipx_secure.install import bytecode_child

        with open(request["output"], "xb") as out:
            return f"{bytecode_child.answer(request, out)}\n"

    def _audit(self, request: dict[str, Any]) -> dict[str, Any]:
        """The audit's target script, answered in this process (it is spip's own code)."""
        from pipx_secure.audit import target_script

        if request.get("op") == "bytecode":
            items = request["items"]
            return {"results": {i[0]: target_script.compare_one(i[0], i[1], i[2]) for i in items}}
        if request.get("op") != "probe":
            return {"error": "fake: not a virtual environment"}
        facts = self.facts()
        return {
            **facts,
            "base_executable": facts["executable"],
            "site_dirs": [str(self.site)],
            "paths": {
                "purelib": str(self.site),
                "platlib": str(self.site),
                "scripts": str(self.prefix / "bin"),
                "data": str(self.prefix),
            },
            "cache_tag": sys.implementation.cache_tag,
            "venv": None,
        }

    def _pip_install(self, argv: tuple[str, ...]) -> Completed:
        # The requirements file is a temporary file: read it now, while it exists.
        text = Path(_option(argv, "-r")).read_text(encoding="utf-8")
        house = Path(_option(argv, "--find-links"))
        self.requirement_texts.append(text)
        self.wheelhouses.append(sorted(p.name for p in house.iterdir() if _is_dist(p.name)))
        if self.pip_failure is not None:
            return Completed(argv, 1, "", self.pip_failure)
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            pin, _, hashed = line.partition(" --hash=")
            name, _, version = pin.partition("==")
            wheel = self._wheel(house, name, version)
            if wheel is None or hashed != f"sha256:{sha256_of(wheel)}":
                return Completed(argv, 1, "", f"ERROR: hashes do not match for {pin}")
            self.put(name, version, wheel_metadata(wheel))
            self._extract(wheel)
        return Completed(argv, 0, "", "")

    def _extract(self, wheel: Path) -> None:
        """The wheel's other modules too (listed in the RECORD ``put`` wrote), as pip would."""
        name, version, _build, _tags = parse_wheel_filename(wheel.name)
        record = self.site / f"{module_name(name)}-{version}.dist-info" / "RECORD"
        listed = set(record.read_text().splitlines())
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if ".dist-info/" in member or f"{member},," in listed:
                    continue
                (self.site / member).parent.mkdir(parents=True, exist_ok=True)
                (self.site / member).write_bytes(archive.read(member))
                with record.open("a") as handle:
                    handle.write(f"{member},,\n")

    @staticmethod
    def _wheel(house: Path, name: str, version: str) -> Path | None:
        for path in house.glob("*.whl"):
            wheel_name, wheel_version, _b, _t = parse_wheel_filename(path.name)
            if wheel_name == canonicalize_name(name) and str(wheel_version) == version:
                return path
        return None

    def put(self, name: str, version: str, metadata: bytes | None = None) -> None:
        """Write ``name``'s dist-info into the fake site-packages (as pip or another tool)."""
        if metadata is None:
            metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        module = module_name(name)
        for old in self.site.glob(f"{module}-*.dist-info"):
            shutil.rmtree(old)
        dist_info = self.site / f"{module}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (self.site / module).mkdir(exist_ok=True)
        (self.site / module / "__init__.py").write_text(f"VERSION = {version!r}\n")
        (dist_info / "METADATA").write_bytes(metadata)
        (dist_info / "RECORD").write_text(
            f"{module}/__init__.py,,\n{dist_info.name}/METADATA,,\n{dist_info.name}/RECORD,,\n"
        )

    def _pip_uninstall(self, argv: tuple[str, ...]) -> Completed:
        names = [a for a in argv[argv.index("uninstall") + 1 :] if not a.startswith("-")]
        for name in names:
            for found in self.site.glob(f"{module_name(name)}-*.dist-info"):
                shutil.rmtree(found)
        return Completed(argv, 0, "", "")


class RefusingBuilder(Builder):
    """A builder for tests where nothing may be built: it records the attempt, then fails.

    The attempt is recorded because some callers swallow errors (background prefetches).
    """

    def __init__(self, target: TargetEnvironment, cache: ArtifactCache) -> None:
        super().__init__(target, cache, _no_build_dependencies, Processes({}))
        self.attempts: list[str] = []

    def build_wheel(
        self, name: NormalizedName, version: str, sdist: Path, digest: Digest, depth: int = 0
    ) -> WheelFile:
        self.attempts.append(f"{name} {version}")
        raise AssertionError(f"unexpected build of {name} {version}")

    def build_local(self, source: Path, out_dir: Path, *, editable: bool = False) -> Path:
        self.attempts.append(str(source))
        raise AssertionError(f"unexpected build of {source}")


def _no_build_dependencies(requires: Sequence[Any], why: str, depth: int) -> list[WheelFile]:
    raise AssertionError(f"unexpected build dependencies: {why}")


# -- a catalogue and a whole rig ----------------------------------------------------------


def standard_catalogue(root: Path) -> dict[str, dict[str, list[Path]]]:
    """The company's packages on the private index; impostors at 99 on the public one."""
    private, public = root / "private", root / "public"
    return {
        PRIVATE_URL: {
            "acme-core": [
                build_wheel(private, "acme-core", "1.0.0"),
                build_wheel(private, "acme-core", "1.1.0"),
            ],
            "acme-utils": [
                build_wheel(private, "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
            ],
        },
        PUBLIC_URL: {
            "acme-core": [build_wheel(public, "acme-core", "99.0.0")],
            "acme-utils": [build_wheel(public, "acme-utils", "99.0.0")],
            "publicdep": [build_wheel(public, "publicdep", "1.0.0", requires=["ACME.Core>=1.0"])],
            "six-lite": [build_wheel(public, "six-lite", "1.16.0")],
        },
    }


def map_text(*, strict: bool = False, extra_rules: Mapping[str, str] | None = None) -> str:
    """A source map: ``acme-*`` to the private index (with a username), default public."""
    rules = {"acme-*": "private", **(extra_rules or {})}
    lines = [] if strict else ['default = "public"']
    lines += [f"strict = {'true' if strict else 'false'}", ""]
    lines += ["[indexes.private]", f'url = "{PRIVATE_URL}"', f'username = "{USERNAME}"', ""]
    lines += ["[indexes.public]", f'url = "{PUBLIC_URL}"', "", "[packages]"]
    lines += [f'"{pattern}" = "{index}"' for pattern, index in rules.items()]
    lines += ["", "[direct-urls]", '"acme-tool" = ["git.example"]']
    return "\n".join(lines) + "\n"


def hostile_environ(tmp: Path, venv: Path) -> dict[str, str]:
    """What a CI job may carry: pip settings that would undo the map, and a password."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "HOME": str(tmp / "home"),
        "VIRTUAL_ENV": str(venv),
        "PIP_INDEX_URL": f"https://{USERNAME}:{SECRET}@evil.example/simple/",
        "PIP_EXTRA_INDEX_URL": "https://evil.example/extra/simple/",
        "PYTHONPATH": str(tmp / "evil-path"),
        "SPIP_INDEX_PRIVATE_PASSWORD": SECRET,
        "SPIP_CACHE_DIR": str(tmp / "cache"),
        "LANG": "C.UTF-8",
    }


@dataclass
class Rig:
    """Services wired with the fakes, and the fake target they install into."""

    services: Services
    transport: FakeTransport
    processes: FakeProcesses
    cache: ArtifactCache
    map_path: Path
    python: Path
    prefix: Path
    site: Path
    root: Path
    reporter: SilentReporter = field(default_factory=SilentReporter)

    def target(self) -> TargetEnvironment:
        """Probe the fake target (through the fake process door)."""
        return probe(self.python, self.cache, self.processes)

    def installed(self) -> dict[str, str]:
        """name -> version of what the fake pip wrote into site-packages."""
        return {str(k): str(v) for k, v in self.target().installed.items()}


def make_rig(
    tmp: Path,
    catalogue: Catalogue | None = None,
    *,
    pep658: bool | Iterable[str] = False,
    strict: bool = False,
    extra_rules: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    direct: Mapping[str, Path] | None = None,
) -> Rig:
    """A :class:`Rig` rooted at ``tmp`` (the standard catalogue unless one is given)."""
    prefix = tmp / "target"
    site = prefix / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    python = prefix / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/false\n")
    environ = {**hostile_environ(tmp, prefix), **(extra_env or {})}
    map_path = tmp / "project" / "spip.toml"
    map_path.parent.mkdir(parents=True)
    map_path.write_text(map_text(strict=strict, extra_rules=extra_rules), encoding="utf-8")
    cache = ArtifactCache(tmp / "cache", Sealer(tmp / "cache.key"))
    credentials = CredentialStore(
        environ, use_keyring=False, netrc_path=tmp / "no-netrc", keyring_lookup=_no_keyring
    )
    processes = FakeProcesses(environ, credentials.secrets, site=site, prefix=prefix)
    if catalogue is None:
        catalogue = standard_catalogue(tmp / "files")
    transport = FakeTransport(catalogue, cache, pep658=pep658, direct=direct)
    reporter = SilentReporter()
    services = Services(
        environ=environ,
        cwd=map_path.parent,
        cache=cache,
        credentials=credentials,
        processes=processes,
        reporter=reporter,
        transport_factory=transport.factory,
    )
    return Rig(services, transport, processes, cache, map_path, python, prefix, site, tmp, reporter)


def _no_keyring(service: str, username: str | None) -> tuple[str, str] | None:
    raise AssertionError("unit tests never consult a keyring")
