"""``--now``: the time a command judges at, given on the command line or read from the clock."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["now_or"]


def now_or(text: str | None) -> datetime:
    """``text`` as an ISO 8601 time (UTC when it names no zone), or the current time.

    ValueError says what was wrong with ``text``.
    """
    if not text:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--now {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
