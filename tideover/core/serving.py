"""How Tideover's web processes are started: one command line for `tideover up`, the demo and
the status-page benchmark, so what is measured is what runs."""

from __future__ import annotations

import sys

# On the 2-core reference machine 4 processes x 2 threads serve the status page's cached bytes
# best (bench/statuspage.py). No access log: it costs ~12% of a cached request and would write
# visitors' IP addresses, which are personal data, to the console.
DEFAULT_WEB_WORKERS = 4
DEFAULT_THREADS = 2


def gunicorn_argv(
    bind: str,
    *,
    workers: int = DEFAULT_WEB_WORKERS,
    threads: int = DEFAULT_THREADS,
    app: str = "tideover.wsgi",
) -> list[str]:
    """The gunicorn command line that serves ``app`` on ``bind``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]
