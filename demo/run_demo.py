"""The demo: plain pip falls for a dependency-confusion attack; spip does not.

Two real index servers start on 127.0.0.1: PRIVATE (basic auth) with the company's
``acme-core 1.1.0``, and PUBLIC with an impostor ``acme-core 99.0.0`` whose build drops a
marker file.  Plain pip with ``--extra-index-url`` installs the impostor; spip, with a source
map routing ``acme-*`` to PRIVATE, installs the real package.  Exit status 0 only if both
happen as described.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.environment import clean_env, installed, make_venv, store_password  # noqa: E402
from tests.support.world import USERNAME, build_world, plain_pip_install  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="spip-demo-"))
    world = build_world(work / "world")
    try:
        env = clean_env(work)
        store_password(env, world.private.url, USERNAME, world.password)
        say("== spip demo: dependency confusion ==")
        say(f"PRIVATE index (basic auth): {world.private.url}  has acme-core 1.0.0, 1.1.0")
        say(f"PUBLIC index:               {world.public.url}  has an impostor acme-core 99.0.0")
        say()

        say("1) plain pip, the usual setup:")
        say(f"   pip install --index-url {world.private.url} \\")
        say(f"               --extra-index-url {world.public.url} acme-core")
        pip_venv = make_venv(work / "pip-venv")
        pip_run = plain_pip_install(world, env, pip_venv, "acme-core")
        pip_version = installed(pip_venv).get("acme-core")
        pip_marker = "acme-core" in world.marker_files()
        say(f"   -> installed acme-core {pip_version}; impostor code ran: {pip_marker}")
        if pip_run.returncode != 0:
            say(f"   (pip failed: {pip_run.stderr.strip().splitlines()[-1:]})")
        say()
        shutil.rmtree(world.markers, ignore_errors=True)

        say("2) spip, with this source map (password from keyring, never in argv or files):")
        spip_map = world.write_map(work / "spip.toml")
        for line in spip_map.read_text().splitlines():
            say(f"     {line}")
        say("   spip install acme-core")
        spip_venv = make_venv(work / "spip-venv")
        public_since = world.public.mark()
        spip_run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipx_secure",
                "install",
                "--map",
                str(spip_map),
                "--python",
                str(spip_venv),
                "acme-core",
            ],
            env=env,
            capture_output=True,
            text=True,
            cwd=work,
        )
        for line in (spip_run.stderr + spip_run.stdout).strip().splitlines():
            say(f"   | {line}")
        spip_version = installed(spip_venv).get("acme-core")
        spip_marker = "acme-core" in world.marker_files()
        say(f"   -> installed acme-core {spip_version}; impostor code ran: {spip_marker}")
        say()
        public_asked = world.public.project_requests(public_since)
        say(
            f"During spip's run the public index was asked about: {sorted(public_asked)} "
            "(the private name never left for it)"
        )
        ok = (
            pip_version == "99.0.0"
            and pip_marker
            and spip_version == "1.1.0"
            and not spip_marker
            and spip_run.returncode == 0
            and not public_asked
        )
        say(
            "VERDICT: "
            + (
                "pip fell for the impostor; spip installed the private package."
                if ok
                else "unexpected result (see above)."
            )
        )
        return 0 if ok else 1
    finally:
        world.private.stop()
        world.public.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
