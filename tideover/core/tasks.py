"""Background jobs that belong to no one app: the run of a periodic job (core/periodic.py)."""

from __future__ import annotations

import os
import socket

from django_tasks import task

from tideover.core import periodic


@task()
def run_periodic(name: str, slot: str) -> str:
    """Run periodic job ``name`` for the interval starting at ``slot`` (once, however often
    the queue delivers it)."""
    return periodic.run(name, slot, worker=f"{socket.gethostname()}:{os.getpid()}")
