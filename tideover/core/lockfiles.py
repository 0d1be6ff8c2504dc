"""Lock files beside the SQLite database, which the processes sharing it take turns at with
``flock`` (the outbox's writers, notifications/delivery.py; Detect's run, detect/scoring.py).
A database only one process sees (in memory) has none."""

from __future__ import annotations

import os

from django.db import connection

OUTBOX_WRITES = "-outbox-writes"
DETECT_RUN = "-detect-run"
SUFFIXES = (OUTBOX_WRITES, DETECT_RUN)


def beside_database(suffix: str, db=None) -> str | None:
    """The lock file's path for the current SQLite database (``db``'s, if given), or None for
    one in memory."""
    name = str((db or connection).settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        return None
    return f"{name}{suffix}"


def open_lock(path: str) -> int:
    """The lock file opened for ``flock`` (made, owner-only, the first time)."""
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
