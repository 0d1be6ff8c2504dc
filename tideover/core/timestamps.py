"""Timestamps in the one form strict status-page clients parse.

Atlassian Statuspage always writes milliseconds and an offset (``2026-12-04T07:00:00.000Z``);
``datetime.isoformat()`` drops the fraction when it is zero, and a client parsing with a fixed
format then fails on exactly those values. Every timestamp Tideover publishes for machines
(the v2 JSON, webhook payloads) goes through :func:`iso_millis`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_millis(value: datetime | None) -> str | None:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (None stays None)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
