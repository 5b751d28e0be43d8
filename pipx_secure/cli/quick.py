"""The entry point: answer a satisfied ``spip install`` from its memo before importing the rest.

``spip install ...`` whose sealed no-op memo still holds (:mod:`pipx_secure.commands.noop`)
prints what a satisfied install prints and exits 0, having imported a few standard modules;
anything else goes to :func:`pipx_secure.cli.main.main`.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spip`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["install"]:
        from pipx_secure.commands.noop import NOTHING_TO_INSTALL, quick_noop

        if quick_noop(arguments[1:], os.environ, Path.cwd()):
            quiet = any(
                a == "--quiet" or (a[:2] == "-q" and set(a[1:]) == {"q"}) for a in arguments
            )
            if not quiet:
                sys.stdout.write(NOTHING_TO_INSTALL + "\n")
                sys.stdout.flush()
            return 0
    from pipx_secure.cli.main import main as full

    return full(arguments)


INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def entry() -> None:
    """The ``spip`` console script: :func:`main`, then exit (without collecting cycles).

    After Ctrl-C the process ends at once: a download thread blocked on a silent server must
    not hold the exit for its read timeout (what could be cleaned up already was).
    """
    code = main()
    if code == INTERRUPTED:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            pass
        os._exit(code)
    # Every command has closed what it opened (files, pools, temporary directories); the
    # cycle collector's passes over every object at interpreter exit would only cost time
    # (about 35 ms after an install's imports), so the objects alive now are left out of them.
    gc.freeze()
    sys.exit(code)
