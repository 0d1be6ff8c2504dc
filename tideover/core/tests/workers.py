"""Real ``tideover worker`` processes for tests: the same command, settings and backend that
a deployment runs, pointed at the test database (and at the test run's Redis when the tests
run on RQ)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def worker_env(settings, **extra: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": settings.SITE_URL,
        "TIDEOVER_DATA_DIR": str(Path(settings.STATUS_EXPORT_DIR).parent),
        "STATUS_EXPORT_DIR": settings.STATUS_EXPORT_DIR,
    }
    if getattr(settings, "RQ_QUEUES", None):
        env["REDIS_URL"] = settings.RQ_QUEUES["default"]["URL"]
    env.update(extra)
    return env


def start_worker(
    env: dict, *args: str, log_path: Path | None = None, own_group: bool = False
) -> subprocess.Popen:
    """``tideover worker ARGS`` in the background; its output goes to ``log_path``. With
    ``own_group`` it leads a process group of its own (its id is the worker's pid), so a test
    can find every process it started, children it lost included (``processes_in_group``)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "tideover", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
        start_new_session=own_group,
    )


def free_port() -> int:
    """A loopback port nothing listens on yet."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis_server(port: int, cwd: Path) -> subprocess.Popen | None:
    """A throwaway redis-server of the test's own on ``port`` (nothing saved); None when
    redis-server is not installed."""
    import shutil

    server = shutil.which("redis-server")
    if server is None:
        return None
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return subprocess.Popen([server, *args], stdout=subprocess.DEVNULL, cwd=cwd)


def processes_in_group(group: int) -> list[int]:
    """The live processes in process group ``group`` (from /proc), zombies not counted."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        # "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def stop(
    process: subprocess.Popen,
    sig: int = signal.SIGTERM,
    timeout: float = 30,
    log_path: Path | None = None,
) -> int:
    """Signal the process and wait; one that has not exited by ``timeout`` is killed, so a
    test never leaves a worker behind (holding a database connection the next run needs),
    and the test fails with the worker's log (``log_path``) if it has one."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        if log_path is None:
            raise
        raise AssertionError(
            f"the worker had not stopped {timeout:.0f} s after {signal.Signals(sig).name};"
            f" its log:\n{log_path.read_text()}"
        ) from None


def wait_until(condition, timeout: float = 60, every: float = 0.05, processes=()) -> None:
    """Poll ``condition`` until true; fail early if one of ``processes`` died."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            assert process.poll() is None, f"worker exited with {process.returncode}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
