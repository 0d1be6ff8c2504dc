"""`tideover up` on a fresh data folder: migrates, prints the first login, serves the console and
the status page, and stops everything it started when it is stopped."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "started", ["in a terminal", "with Ctrl+C ignored (a background job)"], ids=str
)
def test_up_serves_console_and_status_page_and_stops_cleanly(tmp_path, started):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own SQLite in tmp
    env["TIDEOVER_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tideover",
            "up",
            "--bind",
            f"127.0.0.1:{port}",
            "--web-workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_ignore_ctrl_c if "ignored" in started else None,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/healthz") == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert _get(f"{base}/") == 200
        assert _get(f"{base}/api/v2/summary.json") == 200
        assert _get(f"{base}/console/") == 200  # urllib follows the redirect to the login page
        assert (tmp_path / "first-login.txt").exists()
        # Password hashes, session keys and shoppers' contacts: for the install's user only.
        assert (tmp_path / "tideover.sqlite3").stat().st_mode & 0o077 == 0
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        assert "First login: admin / " in output and f"{base}/console/" in output
        leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1 --port {port}"], capture_output=True)
        assert leftovers.stdout == b"", "the web server outlived `tideover up`"
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Whatever happened above (a failed assertion, a hang), nothing this test started lives on:
    `tideover up` and its web server and worker share the session it was started in."""
    with contextlib.suppress(ProcessLookupError):  # already gone, with its whole group
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ValueError):  # its output was already read
        proc.communicate(timeout=30)


def test_a_failing_check_still_stops_tideover_up_and_its_children(tmp_path):
    """The clean-up above, proven on a real `tideover up` stopped by a failing assertion."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TIDEOVER_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tideover",
            "up",
            "--bind",
            f"127.0.0.1:{port}",
            "--web-workers",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _get(f"http://127.0.0.1:{port}/healthz") == 200:
                break
        except OSError:
            time.sleep(0.3)
    try:
        try:
            raise AssertionError("a check failed while tideover up was serving")
        finally:
            _stop_group(proc)
    except AssertionError:
        pass
    deadline = time.monotonic() + 15  # killed processes leave the table once reaped
    while time.monotonic() < deadline:
        leftovers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True)
        if leftovers.stdout == b"":
            break
        time.sleep(0.2)
    assert leftovers.stdout == b"", "processes of `tideover up` outlived the failed test"
