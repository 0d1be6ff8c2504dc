"""The web server stops when asked, even with a request that never ends: its workers are killed
after a bound, so `tideover up` and a process manager are never left waiting (nor a worker
left behind holding the terminal's output)."""

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

from tideover.core.serving import WORKERS_KILL_SECONDS, web_server_argv

STUCK_APP = """
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/stuck":
        time.sleep(300)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback only)
        return response.status


def test_a_request_that_never_ends_does_not_keep_the_web_server_from_stopping(tmp_path):
    (tmp_path / "stuck_app.py").write_text(STUCK_APP)
    port = _free_port()
    argv = web_server_argv(
        f"127.0.0.1:{port}", workers=1, app="stuck_app:app", working_dir=str(tmp_path)
    )
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if _get(f"http://127.0.0.1:{port}/") == 200:
                    break
            time.sleep(0.2)

        def wait_forever():
            with contextlib.suppress(OSError):  # cut off when the worker is killed
                _get(f"http://127.0.0.1:{port}/stuck", timeout=300)

        threading.Thread(target=wait_forever, daemon=True).start()
        time.sleep(1.0)  # the request is in the worker now
        asked = time.monotonic()
        server.send_signal(signal.SIGTERM)
        # Output ends when the last process holding it (the worker too) is gone.
        server.communicate(timeout=WORKERS_KILL_SECONDS + 20)
        assert time.monotonic() - asked < WORKERS_KILL_SECONDS + 10
        left = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True)
        assert left.stdout == b"", "a web worker outlived the server"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
