"""Build environments: a fresh ``--without-pip`` venv of the target interpreter, filled offline.

:class:`BuildEnvironment` implements pypa/build's ``IsolatedEnv`` protocol, so
``build.ProjectBuilder.from_isolated_env`` runs the backend in it.  Its packages come only from
the wheelhouse (:func:`pipx_secure.install.wheelhouse.install_wheels`): build requirements are
resolved through the source map like every other requirement.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipx_secure.errors import BuildError
from pipx_secure.fs import venv_python
from pipx_secure.install.pipargs import PipOptions
from pipx_secure.install.process import ChildKind, Processes
from pipx_secure.install.wheelhouse import WheelFile, install_wheels


class BuildEnvironment:
    """A virtual environment for one build (``build.env.IsolatedEnv``)."""

    def __init__(self, directory: Path, python: Path) -> None:
        self.directory = directory
        self.python = python

    @classmethod
    def create(cls, base_python: Path, directory: Path, processes: Processes) -> BuildEnvironment:
        """A new environment of ``base_python`` at ``directory`` (no pip, nothing installed)."""
        done = processes.run(
            [str(base_python), "-m", "venv", "--without-pip", str(directory)], ChildKind.VENV
        )
        python = venv_python(directory) if done.ok else None
        if python is None:
            raise BuildError(
                f"cannot create a build environment with {base_python}: {done.last_line()}"
            )
        return cls(directory, python)

    @property
    def python_executable(self) -> str:
        """The environment's interpreter (``IsolatedEnv``)."""
        return str(self.python)

    def make_extra_environ(self) -> Mapping[str, str] | None:
        """The environment's scripts first on PATH (``IsolatedEnv``)."""
        scripts = str(self.python.parent)
        return {"PATH": os.pathsep.join([scripts, os.environ.get("PATH", os.defpath)])}

    def install(self, wheels: Sequence[WheelFile], why: str, processes: Processes) -> None:
        """Install verified ``wheels`` offline; a failure is a BuildError naming ``why``."""
        if not wheels:
            return
        done = install_wheels(wheels, self.python, PipOptions(quiet=1, compile=False), processes)
        if not done.ok:
            raise BuildError(f"installing {why} failed: {done.last_line('pip failed')}")
