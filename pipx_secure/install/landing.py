"""Seeing each distribution land while pip is still installing the rest of its group.

pip installs the wheels of one run one after another, and for each it writes the RECORD file
last, in one atomic step (a temporary file, then a rename), after every other file of the
distribution, INSTALLER, REQUESTED and ``direct_url.json`` included.  With ``--no-compile``
(spip's pip step) pip does not touch that distribution again in the run.  So once
``<site>/<name>-<version>.dist-info/RECORD`` exists, the distribution is complete and spip
can write its bytecode while pip goes on with the next wheel: the ``.pyc`` writing overlaps the
install instead of following it.

Only a distribution whose dist-info directory does not exist when the watch begins is watched:
an upgrade or a reinstall finds an old RECORD there, and is left to the step after pip.  What the
watcher has not seen when pip exits is handled by that step too, so a late RECORD (or a pip
that writes RECORD earlier than described) costs only the overlap: nothing is skipped.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from pipx_secure.install.wheelhouse import WheelFile

#: How often the watcher looks (seconds): a distribution takes longer than this to unpack.
INTERVAL = 0.02


def dist_info_name(wheel: Path) -> str | None:
    """The wheel's ``.dist-info`` directory (None: not exactly one, or unreadable)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            tops = {name.split("/", 1)[0] for name in archive.namelist() if "/" in name}
    except (OSError, zipfile.BadZipFile):
        return None
    found = [top for top in tops if top.endswith(".dist-info")]
    return found[0] if len(found) == 1 else None


class Landing:
    """Calls ``on_landed(wheel, dist_info)`` for each new distribution pip finishes, while
    pip runs (a context manager around the pip run)."""

    def __init__(
        self,
        wheels: Sequence[WheelFile],
        site_dirs: Sequence[str],
        on_landed: Callable[[WheelFile, Path], None],
    ) -> None:
        self.on_landed = on_landed
        self.landed: list[WheelFile] = []
        self.error: BaseException | None = None
        self._wheels = list(wheels)
        self._sites = list(dict.fromkeys(site_dirs))
        self._waiting: dict[WheelFile, list[Path]] = {}
        self._stop = threading.Event()
        #: Set once the watcher knows what it watches.
        self.watching = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spip-landing", daemon=True)

    def __enter__(self) -> Landing:
        if self._wheels:
            self._thread.start()
        return self

    def _watch(self) -> None:
        """Which dist-info directories to watch: read in the watcher, so pip starts at once.
        One that exists by then is never watched (an upgrade, or pip already writing it):
        it is left to the step after pip, which is always safe."""
        for wheel in self._wheels:
            name = dist_info_name(wheel.path)
            if name is None:
                continue
            places = [Path(d) / name for d in self._sites]
            if not any(place.exists() for place in places):
                self._waiting[wheel] = places

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        self._watch()
        self.watching.set()
        while self._waiting and not self._stop.wait(INTERVAL):
            for wheel, places in list(self._waiting.items()):
                found = next((p for p in places if (p / "RECORD").is_file()), None)
                if found is None:
                    continue
                del self._waiting[wheel]
                try:
                    self.on_landed(wheel, found)
                except BaseException as exc:  # told to the caller; pip goes on meanwhile
                    self.error = exc
                    return
                self.landed.append(wheel)
