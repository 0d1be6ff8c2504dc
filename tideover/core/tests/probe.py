"""A periodic job that only writes down each time it runs, for the scheduler tests.

Worker processes load it through ``probe_settings`` (the real settings plus this app); the job
appends one line per execution to ``$TIDEOVER_PROBE_FILE``, so the test counts executions,
not bookkeeping rows."""

from __future__ import annotations

import os
import time

from django.apps import AppConfig

PROBE_JOB = "test-probe"
PROBE_SECONDS = 1.0


def record_execution() -> None:
    with open(os.environ["TIDEOVER_PROBE_FILE"], "a") as out:
        out.write(f"{time.time():.3f} {os.getpid()}\n")


class ProbeConfig(AppConfig):
    name = "tideover.core.tests"
    label = "periodic_probe"

    def ready(self):
        from tideover.core import periodic

        periodic.register(PROBE_JOB, PROBE_SECONDS, record_execution)
