"""Release-age cooldown: a point in time after which uploaded files are no candidates.

Written as a timestamp (RFC 3339 / ISO 8601, a date or a date and time; UTC when no offset is
given) or as a duration before now (``7 days``, ``12 hours``, ``2 weeks``, ``30 minutes``).
Used by ``--uploaded-prior-to`` and a map index's ``exclude-newer``; compared with PEP 700's
``upload-time``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def parse_moment(text: str) -> datetime | timedelta:
    """A timestamp (aware, UTC when unspecified) or a duration; ValueError otherwise."""
    duration = _DURATION.match(text)
    if duration:
        return timedelta(seconds=float(duration.group(1)) * _UNITS[duration.group(2).lower()])
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def cutoff(spec: datetime | timedelta, now: datetime) -> datetime:
    """The latest upload time allowed by ``spec`` at ``now``."""
    return now - spec if isinstance(spec, timedelta) else spec


def upload_time(value: str | None) -> datetime | None:
    """A PEP 700 ``upload-time`` as an aware datetime (None if absent or unreadable)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
