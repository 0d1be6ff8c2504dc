"""Real processes on loopback for the fault-injection tests, the agent benchmark and the demo:
HQ under the same server command as production (tideover.core.serving) and store agents under
``tideover agent run``. Each starts in its own process group so a SIGKILL takes its children."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tideover.core.serving import web_server_argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process ended with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def start_hq(port: int, env: dict, *, workers: int = 2, log=None) -> subprocess.Popen:
    """HQ's web server (Granian, as `tideover up` runs it) on 127.0.0.1:port."""
    proc = subprocess.Popen(
        web_server_argv(f"127.0.0.1:{port}", workers=workers),
        env={**env, "DJANGO_SETTINGS_MODULE": "tideover.settings"},
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until_up(f"http://127.0.0.1:{port}/healthz", proc=proc)
    return proc


def start_agent(
    *, store: str, hq: str, token: str, data: str, port: int, env: dict | None = None, log=None
) -> subprocess.Popen:
    """``tideover agent run`` for one store, listening on 127.0.0.1:port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tideover", "agent", "run", "--store", store, "--hq", hq,
         "--token", token, "--data", data, "--listen", f"127.0.0.1:{port}"],
        env={**os.environ, **(env or {})},
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    wait_until_up(f"http://127.0.0.1:{port}/healthz", proc=proc)
    return proc


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process and everything it started; wait for it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def database_url(db: dict) -> str:
    """The URL of a Django database settings dict (the test database's real name included),
    for HQ processes that must share it."""
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db.get("USER") or ""
    if auth and db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"
    return f"postgresql://{auth + '@' if auth else ''}{host}/{db['NAME']}"


def hq_env(database_url: str, data_dir: str, secret_key: str, **extra: str) -> dict:
    """The environment HQ's processes need to share one database with the caller."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TIDEOVER_DATA_DIR": data_dir,
        "SECRET_KEY": secret_key,
        **extra,
    }
