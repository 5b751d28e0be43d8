"""The test world: two real index servers, a private one with basic auth and a public one
with impostors of every private name at version 99.0.0 whose build (or backend import) writes a
marker file.  Used by the test fixtures and by the demo."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.environment import plain_pip
from tests.support.packages import build_backend_wheel, build_sdist, build_wheel
from tests.support.servers import IndexServer, start_server

USERNAME = "acme-ci"
PRIVATE_NAMES = ("acme-core", "acme-utils", "acme-backend", "acme-built", "acme-extras")


@dataclass
class World:
    private: IndexServer
    public: IndexServer
    markers: Path
    root: Path

    @property
    def password(self) -> str:
        assert self.private.password is not None
        return self.private.password

    def write_map(
        self,
        path: Path,
        *,
        strict: bool = False,
        extra_rules: str = "",
        private_url: str | None = None,
    ) -> Path:
        """A map routing ``acme-*`` to the private index (or ``private_url``, a proxy of it)."""
        private = private_url or self.private.url
        path.write_text(
            ("strict = true\n" if strict else 'default = "public"\n')
            + f'[indexes.private]\nurl = "{private}"\nusername = "{USERNAME}"\n'
            + f'[indexes.public]\nurl = "{self.public.url}"\n'
            + '[packages]\n"acme-*" = "private"\n'
            + extra_rules
        )
        return path

    def marker_files(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir()) if self.markers.exists() else []


def build_world(root: Path) -> World:
    markers = root / "markers"
    private_dir = root / "private-packages"
    public_dir = root / "public-packages"
    # The company's packages.
    build_wheel(private_dir, "acme-core", "1.0.0")
    build_wheel(private_dir, "acme-core", "1.1.0")
    build_wheel(private_dir, "acme-utils", "1.0.0", requires=["acme-core>=1.0"])
    build_backend_wheel(private_dir, "acme-backend", "1.0.0")
    build_sdist(
        private_dir,
        "acme-built",
        "1.0.0",
        build_requires=["acme-backend"],
        backend="acme_backend",
        static_metadata=False,
        requires=["acme-core"],
    )
    build_wheel(private_dir, "acme-extras", "1.0.0", extras={"fast": ["acme-core"]})
    build_wheel(private_dir, "acme-beta", "1.0.0")
    # Wheel and sdist of 1.0.0, sdist only of 2.0.0: for --no-binary and --prefer-binary.
    build_wheel(private_dir, "acme-dual", "1.0.0")
    build_sdist(private_dir, "acme-dual", "1.0.0")
    build_sdist(private_dir, "acme-dual", "2.0.0")
    for platform_tag in ("py3-none-manylinux_2_17_x86_64", "py3-none-macosx_11_0_arm64"):
        build_wheel(private_dir, "acme-native", "1.0.0", requires=["acme-core"], tag=platform_tag)
    build_wheel(private_dir, "acme-beta", "2.0.0b1")
    # A 31-distribution closure for the no-op fast path.
    for number in range(30):
        build_wheel(private_dir, f"acme-lib{number}", "1.0.0")
    build_wheel(
        private_dir, "acme-bundle", "1.0.0", requires=[f"acme-lib{number}" for number in range(30)]
    )
    # Public packages, and impostors of every private name.
    build_wheel(public_dir, "publicdep", "1.0.0", requires=["acme-core"])
    build_wheel(public_dir, "requests-lite", "2.0.0")
    for name in ("acme-core", "acme-utils", "acme-built", "acme-extras"):
        build_sdist(public_dir, name, "99.0.0", in_tree_backend_marker=markers / name)
    build_backend_wheel(public_dir, "acme-backend", "99.0.0", marker=markers / "acme-backend")
    password = secrets.token_urlsafe(18)
    private = start_server(
        private_dir, root / "private-server", username=USERNAME, password=password
    )
    public = start_server(public_dir, root / "public-server")
    return World(private, public, markers, root)


def plain_pip_install(
    world: World, env: dict[str, str], venv: Path, *names: str
) -> subprocess.CompletedProcess[str]:
    """What most teams do today: pip with the private index plus ``--extra-index-url``.

    The password reaches pip through a netrc file that exists only for this call.
    """
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USERNAME} password {world.password}\n")
    netrc.chmod(0o600)
    try:
        return plain_pip(
            venv,
            env,
            "--disable-pip-version-check",
            "--index-url",
            world.private.url,
            "--extra-index-url",
            world.public.url,
            *names,
            check=False,
        )
    finally:
        netrc.unlink()
