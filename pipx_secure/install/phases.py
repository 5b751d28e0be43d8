"""Where an install's time goes: named phases, which may overlap, timed for the benchmark.

``SPIP_TIMINGS=FILE`` appends one JSON line per spip run: for each phase (resolution,
download, build, compile, install, bytecode, provenance) the wall seconds during which it was
running (the union of its intervals, so overlapping work is not counted twice) and its window
(first start, last end, in seconds since the run began), the run's start and end
(``time.time()``), and the CPU seconds of spip's own process and of its children.  Nothing is
written without the variable.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Mapping


class Phases:
    """Intervals per phase name; thread-safe."""

    def __init__(self) -> None:
        self.started = time.time()
        self._origin = time.perf_counter()
        self._spans: dict[str, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Time the enclosed block as (part of) phase ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, start, time.perf_counter())

    def add(self, name: str, start: float, end: float) -> None:
        """Record an interval (``time.perf_counter`` values) of phase ``name``."""
        with self._lock:
            self._spans.setdefault(name, []).append((start, end))

    def totals(self) -> dict[str, float]:
        """Wall seconds per phase: the length of the union of its intervals."""
        out = {}
        with self._lock:
            spans = {name: sorted(found) for name, found in self._spans.items()}
        for name, intervals in spans.items():
            total, end = 0.0, float("-inf")
            for start, stop in intervals:
                if stop <= end:
                    continue
                total += stop - max(start, end)
                end = stop
            out[name] = total
        return out

    def windows(self) -> dict[str, tuple[float, float]]:
        """Per phase, when it first started and last ended (seconds since this run began)."""
        with self._lock:
            spans = {name: list(found) for name, found in self._spans.items() if found}
        return {
            name: (
                round(min(s for s, _e in found) - self._origin, 3),
                round(max(e for _s, e in found) - self._origin, 3),
            )
            for name, found in spans.items()
        }

    def write(self, environ: Mapping[str, str]) -> None:
        """Append this run's figures to ``SPIP_TIMINGS`` when it is set."""
        path = environ.get("SPIP_TIMINGS")
        if not path:
            return
        record: dict[str, object] = {
            "started": self.started,
            "ended": time.time(),
            "phases": self.totals(),
            "windows": self.windows(),
        }
        try:
            import resource

            own = resource.getrusage(resource.RUSAGE_SELF)
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            record["cpu_self"] = own.ru_utime + own.ru_stime
            record["cpu_children"] = children.ru_utime + children.ru_stime
        except ImportError:  # not on this platform
            pass
        with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
