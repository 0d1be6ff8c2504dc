"""The worker's "please stop" flag. ``tideover worker`` sets it on SIGTERM/SIGINT; long jobs
(the outbox drain) check ``requested()`` between items and return early, giving back what they
had claimed but not started, so a stopped worker holds nothing."""

from __future__ import annotations

import threading

_stop = threading.Event()


def request() -> None:
    _stop.set()


def requested() -> bool:
    return _stop.is_set()


def clear() -> None:
    """For a process that runs again after a stop (tests, an embedded worker)."""
    _stop.clear()


def event() -> threading.Event:
    return _stop
