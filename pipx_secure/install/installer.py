"""Plan, then act: resolve through the source map, fetch and verify, then run pip offline.

:class:`Installer` wires the pieces for one target environment.  Nothing touches the target
before :meth:`Installer.apply`: resolution, downloads and sdist builds all finish first, so a
failure on the way leaves the environment exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from pipx_secure.config.credentials import CredentialStore
from pipx_secure.errors import InstallError, PolicyError, UsageError
from pipx_secure.index.cache import ArtifactCache
from pipx_secure.index.client import HttpSettings, IndexClient, read_wheel_metadata
from pipx_secure.install.builder import Builder, WheelFile
from pipx_secure.install.pipargs import (
    Backend,
    PipOptions,
    RequirementEntry,
    build_pip_install_args,
    build_uv_install_args,
    find_uv,
    render_requirements,
    run,
    scrubbed_env,
)
from pipx_secure.model.environment import TargetEnvironment
from pipx_secure.model.coremeta import (
    CoreMetadata,
    is_static,
    parse_core_metadata,
    read_sdist_pkg_info,
)
from pipx_secure.model.hashes import Digest, best_expected, file_digest
from pipx_secure.model.plan import Pin, Plan
from pipx_secure.model.simple_api import FileLink
from pipx_secure.model.sourcemap import Index, IndexName, SourceMap
from pipx_secure.resolve.models import Candidate, Req
from pipx_secure.resolve.provider import RoutedProvider, resolve
from pipx_secure.resolve.settings import ResolveSettings

if TYPE_CHECKING:
    from pipx_secure.model.reqfile import RequirementLine


@dataclass(frozen=True)
class LocalArtifact:
    """A project given as a local path: its candidate, its wheel, its PEP 610 record."""

    candidate: Candidate
    wheel: WheelFile
    direct_url: Mapping[str, object]


@dataclass(frozen=True)
class Resolution:
    """The frozen plan plus the candidates it came from (to fetch their files)."""

    plan: Plan
    candidates: Mapping[NormalizedName, Candidate]


@dataclass(frozen=True)
class InstallOutcome:
    """What an install did."""

    plan: Plan
    installed: tuple[Pin, ...]
    satisfied: tuple[Pin, ...]
    pip_ran: bool


class Installer:
    """One install (or lock) against one target environment."""

    def __init__(
        self,
        source_map: SourceMap,
        target: TargetEnvironment,
        *,
        cache: ArtifactCache,
        credentials: CredentialStore | None = None,
        environ: Mapping[str, str] | None = None,
        http: HttpSettings | None = None,
        http_cache: bool = True,
    ) -> None:
        self.source_map = source_map
        self.target = target
        self.cache = cache
        self.environ = dict(os.environ if environ is None else environ)
        self.credentials = credentials or CredentialStore(self.environ)
        self.client = IndexClient(source_map, self.credentials, cache, http, http_cache=http_cache)
        self.builder = Builder(
            target, cache, self._resolve_build, self.environ, self.credentials.secrets
        )
        self._metadata: dict[str, CoreMetadata] = {}
        self.raw_metadata: dict[str, bytes] = {}
        self._local: dict[NormalizedName, LocalArtifact] = {}
        self._workdir = Path(tempfile.mkdtemp(prefix="spip-local-"))
        self._built: dict[str, WheelFile] = {}

    def close(self) -> None:
        """Release network resources and temporary files."""
        import shutil

        self.client.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    # -- local projects and files -----------------------------------------------------------
    def add_direct(self, line: RequirementLine) -> Req:
        """A ``name @ URL`` the map's ``[direct-urls]`` allows: fetched, verified, built.

        Archives need a hash (``#sha256=`` or ``--hash``); ``git+`` URLs are cloned at the
        requested revision and recorded with their commit (PEP 610).  No credential is sent.
        """
        assert line.url is not None and line.requirement is not None
        url = line.url
        if url.startswith("git+"):
            return self._add_git(line, url)
        from urllib.parse import unquote, urlsplit

        from pipx_secure.model.hashes import SUPPORTED
        from pipx_secure.model.redact import strip_userinfo

        parts = urlsplit(url)
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        if parts.scheme not in ("http", "https") or not filename.endswith(
            (".whl", ".tar.gz", ".zip")
        ):
            raise PolicyError(
                f"{line.location}: direct URL {strip_userinfo(url)} is not an http(s) wheel or "
                "sdist, nor a git+ URL",
            )
        expected: list[Digest] = []
        algorithm, _, value = parts.fragment.partition("=")
        if algorithm in SUPPORTED and value:
            expected.append(Digest(algorithm, value.lower()))
        for item in line.hashes:
            algo, _, hexdigest = item.partition(":")
            expected.append(Digest(algo, hexdigest))
        if not expected:
            raise PolicyError(
                f"{line.location}: direct URL {strip_userinfo(url)} has no hash",
                hint="append #sha256=<digest> to the URL, or add --hash=sha256:<digest>",
            )
        target = self._workdir / f"direct-{len(self._local)}" / filename
        target.parent.mkdir(parents=True)
        self._fetch_url(strip_userinfo(url.split("#", 1)[0]), target, expected[0], line.location)
        return self.add_local(
            line,
            source=target,
            direct={
                "url": strip_userinfo(url.split("#", 1)[0]),
                "archive_info": {"hashes": {expected[0].algorithm: expected[0].hexdigest}},
            },
        )

    def _fetch_url(self, url: str, target: Path, expected: Digest, location: str) -> None:
        import hashlib

        import requests

        from pipx_secure.errors import IndexError_, IntegrityError

        hasher = hashlib.new(expected.algorithm)
        try:
            with requests.Session() as session:
                session.trust_env = False
                response = session.get(
                    url,
                    stream=True,
                    timeout=60,
                    proxies=requests.utils.get_environ_proxies(url, no_proxy=None),
                )
                if response.status_code != 200:
                    raise IndexError_(f"{location}: {url} answered HTTP {response.status_code}")
                with target.open("wb") as handle:
                    for chunk in response.iter_content(1 << 20):
                        hasher.update(chunk)
                        handle.write(chunk)
        except requests.RequestException as exc:
            raise IndexError_(f"{location}: cannot fetch {url}: {type(exc).__name__}") from None
        if not expected.matches(hasher.hexdigest()):
            raise IntegrityError(f"{location}: hash mismatch for {url}")

    def _add_git(self, line: RequirementLine, url: str) -> Req:
        import subprocess

        from pipx_secure.errors import BuildError
        from pipx_secure.model.redact import strip_userinfo

        repo, _, revision = url[len("git+") :].split("#", 1)[0].partition("@")
        if "://" in revision:  # user@host form, not a revision
            repo, revision = url[len("git+") :].split("#", 1)[0], ""
        if revision.startswith("-") or repo.startswith("-"):
            raise PolicyError(f"{line.location}: invalid git revision or repository in {url!r}")
        checkout = self._workdir / f"git-{len(self._local)}"
        env = scrubbed_env(self.environ, self.credentials.secrets())
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
        clone = ["git", "clone", "--quiet", "--", strip_userinfo(repo), str(checkout)]
        done = subprocess.run(clone, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildError(f"{line.location}: git clone of {strip_userinfo(repo)} failed")
        if revision:
            switched = subprocess.run(
                ["git", "-C", str(checkout), "checkout", "--quiet", revision],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if switched.returncode != 0:
                raise BuildError(f"{line.location}: no revision {revision!r} in the repository")
        commit = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        vcs_info: dict[str, object] = {"vcs": "git", "commit_id": commit}
        if revision:
            vcs_info["requested_revision"] = revision
        return self.add_local(
            line, source=checkout, direct={"url": strip_userinfo(repo), "vcs_info": vcs_info}
        )

    def add_local(
        self,
        line: RequirementLine,
        *,
        source: Path | None = None,
        direct: dict[str, object] | None = None,
    ) -> Req:
        """Build or take a local project, sdist or wheel; its dependencies are routed."""
        from packaging.utils import parse_wheel_filename

        given_direct = direct
        direct = {}
        if source is None:
            assert line.path is not None
            source = Path(line.path)
        if not source.exists():
            raise PolicyError(
                f"{line.location}: {source} does not exist",
                hint="check the path (relative paths are relative to the file)",
            )
        out = self._workdir / f"local-{len(self._local)}"
        if source.is_dir():
            built = self.builder.build_local(source.resolve(), out, editable=line.editable)
            url = source.resolve().as_uri()
            direct = {
                "url": url,
                "dir_info": {"editable": True} if line.editable else {},
            }
        elif source.name.endswith(".whl"):
            if line.editable:
                raise PolicyError(f"{line.location}: a wheel cannot be installed editable")
            built = source.resolve()
            direct = {
                "url": built.as_uri(),
                "archive_info": {"hashes": {"sha256": file_digest(built)}},
            }
        elif source.name.endswith((".tar.gz", ".zip")):
            from pipx_secure.model.simple_api import parse_filename

            dist = parse_filename(source.name)
            digest = Digest("sha256", file_digest(source))
            built = self.builder.build_wheel(
                dist.name, str(dist.version), source.resolve(), digest
            ).path
            direct = {
                "url": source.resolve().as_uri(),
                "archive_info": {"hashes": {"sha256": digest.hexdigest}},
            }
        else:
            raise PolicyError(
                f"{line.location}: {source} is not a project directory, wheel or sdist"
            )
        direct = given_direct or direct
        name, version, _build, _tags = parse_wheel_filename(built.name)
        if line.requirement is not None and canonicalize_name(line.requirement.name) != name:
            raise PolicyError(
                f"{line.location}: {line.requirement.name} @ ... is really {name} {version}",
                hint="the name before @ must be the project's name",
            )
        digest = Digest("sha256", file_digest(built))
        data = read_wheel_metadata(built, built.name)
        local_index = Index(IndexName("local"), source.resolve().parent.as_uri() + "/")
        link = FileLink(
            filename=built.name, url=built.as_uri(), hashes={"sha256": digest.hexdigest}
        )
        candidate = Candidate(name, version, link, local_index, frozenset(), built.name)
        self._metadata[str(digest)] = parse_core_metadata(data, built.name)
        self.raw_metadata[str(digest)] = data
        self._local[name] = LocalArtifact(
            candidate, WheelFile(name, str(version), built, digest), direct
        )
        extras = frozenset(
            canonicalize_name(e) for e in (line.requirement.extras if line.requirement else ())
        )
        return Req(name, SpecifierSet(f"=={version}"), extras, source=line.location)

    # -- metadata ---------------------------------------------------------------------------
    def _metadata_getter(self, depth: int) -> object:
        def get(candidate: Candidate) -> CoreMetadata:
            return self.metadata_for(candidate, depth)

        return get

    def metadata_for(self, candidate: Candidate, depth: int = 0) -> CoreMetadata:
        """Core metadata of a candidate: PEP 658, the wheel, static PKG-INFO, or a build."""
        digest = best_expected(candidate.link.hashes)
        assert digest is not None
        key = str(digest)
        found = self._metadata.get(key)
        if found is not None:
            return found
        what = candidate.filename
        if candidate.link.is_wheel:
            data = self.client.metadata(candidate.index, candidate.link)
            assert data is not None
            meta = parse_core_metadata(data, what)
            self.raw_metadata[key] = data
        else:
            sdist = self.client.download(candidate.index, candidate.link)
            cached = self.cache.read_metadata(digest)
            pkg_info = cached if cached is not None else read_sdist_pkg_info(sdist, what)
            static = parse_core_metadata(pkg_info, what) if pkg_info else None
            if static is None or not is_static(static):
                wheel = self.builder.build_wheel(
                    candidate.name, str(candidate.version), sdist, digest, depth
                )
                self._built[key] = wheel
                data = read_wheel_metadata(wheel.path, wheel.path.name)
                meta = parse_core_metadata(data, wheel.path.name)
                self.raw_metadata[key] = data
            else:
                meta = static
                assert pkg_info is not None
                self.raw_metadata[key] = pkg_info
                if cached is None and pkg_info is not None:
                    self.cache.write_metadata(digest, pkg_info)
        self._metadata[key] = meta
        return meta

    # -- resolution -------------------------------------------------------------------------
    def resolve(
        self,
        requirements: Sequence[Req],
        constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
        settings: ResolveSettings | None = None,
        *,
        installed_preferred: bool = True,
        depth: int = 0,
    ) -> Resolution:
        """Resolve through the source map; nothing is installed."""
        settings = settings or ResolveSettings()
        for req in requirements:
            self.source_map.index_for(req.name)  # strict maps fail here, before any request
        requested = {r.name for r in requirements}
        if settings.upgrade_eager:
            upgrade = frozenset(self.target.installed)
        elif settings.upgrade:
            upgrade = frozenset(requested)
        else:
            upgrade = frozenset()
        provider = RoutedProvider(
            self.client,
            self.target,
            self._metadata_getter(depth),  # type: ignore[arg-type]
            constraints=constraints,
            policy=settings.policy,
            policy_for=settings.policy_for,
            allow_prereleases=settings.pre,
            preferred=self.target.installed if installed_preferred else {},
            upgrade=upgrade,
            local={n: a.candidate for n, a in self._local.items()},
        )
        self.client.prefetch(r.name for r in requirements)
        if settings.no_deps:
            provider.get_dependencies = _no_dependencies(provider)  # type: ignore[method-assign,assignment]
        candidates = resolve(provider, requirements)
        plan = Plan.from_candidates(candidates, requested)
        return Resolution(plan, {c.name: c for c in candidates})

    def _resolve_build(
        self, requires: Sequence[Requirement], why: str, depth: int
    ) -> list[WheelFile]:
        reqs = [
            Req.from_requirement(r, source=why)
            for r in requires
            if r.marker is None or r.marker.evaluate(dict(self.target.markers, extra=""))
        ]
        resolution = self.resolve(reqs, installed_preferred=False, depth=depth)
        return self.fetch(resolution, resolution.plan.pins, depth)

    def check_user_hashes(
        self, resolution: Resolution, lines: Sequence[RequirementLine], *, require: bool
    ) -> None:
        """``--hash`` from the user must match the file the index serves (pip's semantics).

        In hash-checking mode (``--require-hashes``) every package of the plan needs a pinned
        (``==``) requirement with hashes.
        """
        from pipx_secure.errors import IntegrityError, UsageError

        wanted: dict[NormalizedName, tuple[str, ...]] = {}
        pinned: set[NormalizedName] = set()
        for line in lines:
            if line.requirement is None:
                continue
            name = canonicalize_name(line.requirement.name)
            if line.hashes:
                wanted[name] = wanted.get(name, ()) + line.hashes
            specs = list(line.requirement.specifier)
            if len(specs) == 1 and specs[0].operator in ("==", "==="):
                pinned.add(name)
        if require:
            for pin in resolution.plan.pins:
                if pin.name in self._local:
                    continue
                if pin.name not in wanted or pin.name not in pinned:
                    raise UsageError(
                        f"hash-checking mode: {pin.name} {pin.version} needs a requirement "
                        f"pinned with == and --hash",
                        hint=f"add `{pin.name}=={pin.version} --hash={pin.digest}` after "
                        "checking it",
                    )
        by_name = {p.name: p for p in resolution.plan.pins}
        for name, hashes in sorted(wanted.items()):
            found = by_name.get(name)
            if found is None or name in self._local:
                continue
            pin = found
            candidate = resolution.candidates[name]
            path = self.client.download(candidate.index, candidate.link)
            for item in hashes:
                algorithm, _, value = item.partition(":")
                if Digest(algorithm, value).matches(file_digest(path, algorithm)):
                    break
            else:
                raise IntegrityError(
                    f"{name} {pin.version}: {pin.filename} from index {pin.index} matches none "
                    "of the --hash values given",
                    hint="the index serves other bytes than the ones you pinned; nothing was "
                    "installed",
                )

    # -- fetching ---------------------------------------------------------------------------
    def fetch(self, resolution: Resolution, pins: Sequence[Pin], depth: int = 0) -> list[WheelFile]:
        """Download (in parallel, verified) and build what ``pins`` need; returns wheels."""
        local = [self._local[p.name].wheel for p in pins if p.name in self._local]
        candidates = [resolution.candidates[p.name] for p in pins if p.name not in self._local]
        paths = self.client.download_many((c.index, c.link) for c in candidates)
        wheels = list(local)
        for candidate, path in zip(candidates, paths):
            digest = best_expected(candidate.link.hashes)
            assert digest is not None
            if candidate.link.is_wheel:
                wheels.append(WheelFile(candidate.name, str(candidate.version), path, digest))
                continue
            built = self._built.get(str(digest))
            if built is None:
                built = self.builder.build_wheel(
                    candidate.name, str(candidate.version), path, digest, depth
                )
            wheels.append(built)
        return wheels

    # -- acting -----------------------------------------------------------------------------
    def apply(
        self,
        resolution: Resolution,
        *,
        pip_options: PipOptions,
        reinstall: bool = False,
    ) -> InstallOutcome:
        """Fetch and build everything first, then run pip once, offline."""
        to_install, satisfied = resolution.plan.changes(self.target.installed, reinstall=reinstall)
        if not to_install:
            return InstallOutcome(resolution.plan, (), satisfied, pip_ran=False)
        wheels = self.fetch(resolution, to_install)
        with tempfile.TemporaryDirectory(prefix="spip-wheelhouse-") as temp:
            house = Path(temp)
            for wheel in wheels:
                _link(wheel.path, house / wheel.path.name)
            req_file = house / "spip-requirements.txt"
            req_file.write_text(
                render_requirements(
                    RequirementEntry(w.name, w.version, _verified(w)) for w in wheels
                ),
                encoding="utf-8",
            )
            if pip_options.backend is Backend.UV:
                uv = find_uv()
                if uv is None:
                    raise UsageError(
                        "--installer uv: no uv binary found",
                        hint="pip install uv (beside spip), or use the default pip installer",
                    )
                parallel_compile = False  # uv compiles in parallel itself
                argv = build_uv_install_args(
                    uv=uv,
                    target_python=self.target.python,
                    wheelhouse=house,
                    requirements_file=req_file,
                    options=pip_options,
                )
            else:
                # spip byte-compiles afterwards, in parallel, exactly the files pip installed.
                parallel_compile = pip_options.compile and not pip_options.target_dir
                argv = build_pip_install_args(
                    target_python=self.target.python,
                    wheelhouse=house,
                    requirements_file=req_file,
                    options=replace(pip_options, compile=False)
                    if parallel_compile
                    else pip_options,
                )
            env = scrubbed_env(self.environ, self.credentials.secrets())
            if pip_options.user:
                env.pop("PYTHONNOUSERSITE", None)  # --user needs the user site enabled
            completed = run(argv, env, capture=True)
        if completed.returncode != 0:
            lines = [x for x in completed.stderr.splitlines() if x.strip()]
            detail = lines[-1].strip() if lines else f"exit status {completed.returncode}"
            raise InstallError(
                f"pip failed installing the plan: {detail}",
                hint="everything was fetched and verified; pip itself refused (run with -v)",
            )
        after = None
        if not (pip_options.target_dir or pip_options.user):
            after = self.record_provenance(to_install)
            self._record_direct_urls(after, to_install)
        if parallel_compile:
            from pipx_secure.install.compile import compile_files, python_files
            from pipx_secure.install.target import probe

            after = after or probe(self.target.python)
            dist_infos = [after.locations[p.name] for p in to_install if p.name in after.locations]
            compile_files(
                self.target.python,
                python_files(dist_infos),
                scrubbed_env(self.environ, self.credentials.secrets()),
            )
        return InstallOutcome(resolution.plan, to_install, satisfied, pip_ran=True)

    def _record_direct_urls(self, after: TargetEnvironment, pins: Sequence[Pin]) -> None:
        """PEP 610 ``direct_url.json`` for local installs (editable ones flagged as such)."""
        import json

        for pin in pins:
            local = self._local.get(pin.name)
            location = after.locations.get(pin.name)
            if local is None or location is None:
                continue
            target = location / "direct_url.json"
            target.write_text(json.dumps(dict(local.direct_url), sort_keys=True), encoding="utf-8")
            record = location / "RECORD"
            with contextlib.suppress(OSError), record.open("a", encoding="utf-8") as handle:
                handle.write(f"{location.name}/direct_url.json,,\n")

    def record_provenance(self, pins: Sequence[Pin]) -> TargetEnvironment:
        """Write where each installed distribution came from (read by ``spip audit``)."""
        from pipx_secure.install.provenance import ProvenanceEntry, record_digest, write_provenance
        from pipx_secure.install.target import probe

        after = probe(self.target.python)
        entries = []
        for pin in pins:
            location = after.locations.get(pin.name)
            if pin.name in self._local:
                continue  # local projects have no index provenance
            entries.append(
                ProvenanceEntry(
                    name=pin.name,
                    version=str(pin.version),
                    index=pin.index,
                    index_url=pin.index_url,
                    filename=pin.filename,
                    sha256=pin.digest.hexdigest if pin.digest.algorithm == "sha256" else "",
                    record_sha256=record_digest(location / "RECORD") if location else None,
                )
            )
        # A read-only prefix: the install stands; audit will verify against the index instead.
        with contextlib.suppress(OSError):
            write_provenance(after.prefix, entries)
        return after


def _verified(wheel: WheelFile) -> Digest:
    actual = file_digest(wheel.path, wheel.digest.algorithm)
    if not wheel.digest.matches(actual):
        from pipx_secure.errors import IntegrityError

        raise IntegrityError(f"{wheel.path.name} changed in the cache since it was verified")
    return wheel.digest


def _no_dependencies(provider: RoutedProvider) -> object:
    def get_dependencies(candidate: Candidate) -> list[Req]:
        if candidate.extras:
            return [Req(candidate.name, SpecifierSet(f"=={candidate.version}"))]
        return []

    return get_dependencies


def _link(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        import shutil

        shutil.copyfile(source, dest)


def resolution_from_lock(installer: Installer, lock: object) -> Resolution:
    """The lock's selection for the target, checked against what each index serves now.

    Each selected file must be listed, with the same hash, on the project page of the index the
    source map assigns to its name; anything else is refused before anything is installed.
    """
    from packaging.pylock import PackageSdist, PackageWheel, Pylock, PylockSelectError

    from pipx_secure.errors import IntegrityError, ResolutionError
    from pipx_secure.model.hashes import Digest

    assert isinstance(lock, Pylock)
    target = installer.target
    try:
        selected = list(lock.select(environment=dict(target.markers), tags=target.tags))  # type: ignore[arg-type]
    except PylockSelectError as exc:
        raise ResolutionError(f"the lock has nothing installable here: {exc}") from None
    names = [canonicalize_name(p.name) for p, _a in selected]
    installer.client.prefetch(names)
    candidates: dict[NormalizedName, Candidate] = {}
    for package, artifact in selected:
        name = canonicalize_name(package.name)
        if not isinstance(artifact, (PackageWheel, PackageSdist)):
            raise PolicyError(
                f"{name}: the lock selects a direct source; spip installs only from "
                "indexes in the source map"
            )
        filename = artifact.filename
        route = installer.source_map.index_for(name)
        page = installer.client.page(name)
        link = next((f for f in page.files if f.filename == filename), None)
        if link is None:
            raise IntegrityError(
                f"{name}: {filename} from the lock is not served by index {route.index.name} "
                f"({route.index.redacted})",
                hint="the index no longer has it, or the lock came from another source; re-lock",
            )
        for algorithm, value in artifact.hashes.items():
            published = link.hashes.get(algorithm.lower())
            if published is not None and not Digest(algorithm.lower(), published).matches(value):
                raise IntegrityError(
                    f"{name}: the lock's {algorithm} for {filename} differs from what index "
                    f"{route.index.name} publishes now",
                    hint="the file changed on the index since locking; investigate before "
                    "re-locking",
                )
        if best_expected(link.hashes) is None:
            raise IntegrityError(
                f"{name}: index {route.index.name} publishes no hash for {filename}"
            )
        version = package.version
        if version is None:
            from pipx_secure.model.simple_api import parse_filename

            version = parse_filename(filename).version
        candidates[name] = Candidate(name, version, link, route.index, frozenset(), filename)
    plan = Plan.from_candidates(candidates.values(), requested=candidates.keys())
    return Resolution(plan, candidates)
