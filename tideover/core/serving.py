"""How Tideover's web processes are started: one command line for `tideover up`, the demo and
the status-page benchmark, so what is measured is what runs.

The server is Granian (Rust HTTP, WSGI interface). Reason for the choice: during an outage the
status page takes the traffic spike, and the request path there is already a dictionary lookup
in front of Django (tideover/statuspage/fastpath.py); what is left is the server's own cost per
request. On the 2-core reference machine gunicorn (4 processes x 2 threads, no access log) served
the cached page at ~8,600 requests/s and Granian at ~33,000-40,000 in the same minute
(bench/statuspage.py and docs/benchmarks.md).
"""

from __future__ import annotations

import os
import sys

DEFAULT_THREADS = 2  # Django views block; 2 threads per process keep a slow one from stalling it


def default_web_workers() -> int:
    """One web process per core this process may run on (what the operator did not override)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# Asked to stop, a worker may finish its requests for this long, then it is killed: otherwise
# one request that never ends keeps the server (and `tideover up`, or a process manager's stop)
# waiting for ever. Under `tideover up`'s own 10 s wait for each process it started.
WORKERS_KILL_SECONDS = 8


def web_server_argv(
    bind: str,
    *,
    workers: int | None = None,
    threads: int = DEFAULT_THREADS,
    app: str = "tideover.wsgi:application",
    working_dir: str = "",
) -> list[str]:
    """The command line that serves the WSGI ``app`` on ``bind`` (host:port).

    No access log: it would write visitors' IP addresses, which are personal data.
    """
    host, _, port = bind.rpartition(":")
    argv = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host.strip("[]"),
        "--port",
        port,
        "--workers",
        str(workers or default_web_workers()),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers-kill-timeout",
        str(WORKERS_KILL_SECONDS),
    ]
    if working_dir:
        argv += ["--working-dir", working_dir]
    return [*argv, app]
