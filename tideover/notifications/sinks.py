"""Local stand-ins for the outside world, on 127.0.0.1 only: an SMTP server (aiosmtpd) and one
HTTP server that receives signed webhooks (verifying them), plays Twilio's Messages API and
takes apprise's json:// posts. Tests, the benchmark and the demo use them.

Run one on its own: ``python -m tideover.notifications.sinks smtp --port 2525 --dir data/outbox-mail``
or ``python -m tideover.notifications.sinks http --port 8025 --log data/webhooks.log --secret S``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from tideover.core.http import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from tideover.core.signing import challenge_proof


class SmtpSink:
    """An aiosmtpd server keeping every message (and writing .eml files when given a folder)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, folder: str | Path | None = None):
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per connection
        self.messages: list = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each
        self.count = 0
        self.folder = Path(folder) if folder else None
        self.keep = True
        self.delay = 0.0  # seconds per message, to catch a sender mid-batch in tests
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                if sink.delay:
                    import asyncio

                    await asyncio.sleep(sink.delay)
                sink.count += 1
                if sink.keep:
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                    sink.messages.append(
                        message_from_bytes(envelope.content, policy=policy.default)
                    )
                if sink.folder is not None:
                    name = f"{time.time():.6f}-{sink.count}.eml"
                    (sink.folder / name).write_bytes(envelope.content)
                return "250 OK"

        self.controller = Controller(Handler(), hostname=host, port=port or _free_port())
        self.host, self.port = host, self.controller.port

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def bodies(self) -> list[str]:
        found = []
        for msg in self.messages:
            part = msg.get_body(preferencelist=("plain",))
            found.append(part.get_content() if part else "")
        return found


class HttpSink:
    """Webhooks (signature checked against ``secret_for(path)``), Twilio and apprise json://."""

    def __init__(self, host="127.0.0.1", port=0, *, secret_for=None, log_path=None, tolerance=300):
        self.webhooks: list[dict] = []
        self.refused: list[dict] = []
        self.duplicates = 0
        self.verifications: list[str] = []
        self.seen: set[str] = set()
        self.sms: list[dict] = []
        self.chat: list[dict] = []
        self.fail_next: list[int] = []  # status codes to answer next (for retry tests)
        self.keep = True
        self.delay = 0.0  # seconds per request, to catch a sender mid-batch in tests
        self.count = 0
        self.secret_for = secret_for or (lambda path: "")
        self.log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115
        self.tolerance = tolerance
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port or _free_port()), self._handler())
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"

    def start(self) -> HttpSink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.log:
            self.log.close()

    def _handler(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in two writes; without this, Nagle's algorithm and the
                # client's delayed ACK add 40 ms to every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self, status: int, body: bytes = b"", ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if sink.delay:
                    time.sleep(sink.delay)
                with sink.lock:
                    failing = sink.fail_next.pop(0) if sink.fail_next else None
                if failing:
                    return self._answer(failing, b"{}")
                if "/Messages.json" in self.path:
                    return self._twilio(body)
                if self.path.startswith("/chat"):
                    with sink.lock:
                        sink.chat.append(json.loads(body or b"{}"))
                    return self._answer(200, b"{}")
                return self._webhook(body)

            def _twilio(self, body: bytes):
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                sid = "SM" + secrets.token_hex(16)
                with sink.lock:
                    sink.count += 1
                    sink.sms.append({"sid": sid, **form})
                account = self.path.split("/Accounts/")[1].split("/")[0]
                answer = {
                    "sid": sid,
                    "account_sid": account,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
                }
                return self._answer(201, json.dumps(answer).encode())

            def _webhook(self, body: bytes):
                ok = verify_signature(
                    sink.secret_for(self.path),
                    body,
                    timestamp=self.headers.get(TIMESTAMP_HEADER),
                    signature=self.headers.get(SIGNATURE_HEADER),
                    tolerance_seconds=sink.tolerance,
                )
                delivery = self.headers.get(DELIVERY_HEADER, "")
                if not ok:
                    with sink.lock:
                        sink.refused.append({"path": self.path, "delivery": delivery})
                    return self._answer(401, b'{"error": "bad signature"}')
                payload = json.loads(body or b"{}")
                if isinstance(payload, dict) and payload.get("type") == "verification":
                    # A new subscription's signed challenge: answering it turns it on.
                    with sink.lock:
                        sink.verifications.append(self.path)
                    # The proof that it holds the secret: an HMAC of the challenge.
                    challenge = str(payload.get("challenge", ""))
                    answer = {"proof": challenge_proof(sink.secret_for(self.path), challenge)}
                    return self._answer(200, json.dumps(answer).encode())
                with sink.lock:
                    sink.count += 1
                    duplicate = delivery in sink.seen
                    sink.seen.add(delivery)
                    if duplicate:
                        sink.duplicates += 1
                    elif sink.keep:
                        sink.webhooks.append(
                            {"path": self.path, "delivery": delivery, "json": json.loads(body)}
                        )
                    if sink.log is not None and not duplicate:
                        sink.log.write(
                            json.dumps(
                                {"path": self.path, "delivery": delivery, "body": body.decode()}
                            )
                            + "\n"
                        )
                # A repeat is acknowledged (so the sender stops) but not acted on twice.
                return self._answer(200, b"{}")

        return Handler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["smtp", "http"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", help="smtp: folder for .eml files")
    parser.add_argument("--log", help="http: file that gets one JSON line per webhook")
    parser.add_argument("--secret", default="", help="http: webhook signing secret to verify")
    parser.add_argument("--no-keep", action="store_true", help="count, do not keep messages")
    args = parser.parse_args(argv)
    if args.kind == "smtp":
        sink = SmtpSink(port=args.port, folder=args.dir)
        sink.keep = not args.no_keep
        sink.start()
    else:
        sink = HttpSink(port=args.port, secret_for=lambda path: args.secret, log_path=args.log)
        sink.keep = not args.no_keep
        sink.start()
    print(f"listening 127.0.0.1:{sink.port}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
