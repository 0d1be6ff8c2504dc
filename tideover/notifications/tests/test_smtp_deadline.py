"""A mail server that trickles its answers a byte at a time (each read well inside
EMAIL_TIMEOUT) is cut off at SMTP_DEADLINE_SECONDS, whether it stalls before saying hello or
while taking a message; the message stays queued for a retry with the reason."""

import socket
import threading
import time

import pytest

from tideover.notifications.models import OutboxMessage
from tideover.notifications.outbox import drain


class TricklingSmtp:
    """Loopback SMTP that answers normally until ``stall_at``, then sends one byte every 0.2 s
    and never ends the line."""

    def __init__(self, stall_at: str):
        self.stall_at = stall_at
        self.stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        while not self.stopped.is_set():
            conn.sendall(b"2")
            time.sleep(0.2)

    def _talk(self, conn):
        with conn, conn.makefile("rb") as lines:
            try:
                if self.stall_at == "banner":
                    return self._trickle(conn)
                conn.sendall(b"220 trickle ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 trickle\r\n")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        conn.sendall(b"250 OK\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        for body in lines:
                            if body == b".\r\n":
                                break
                        return self._trickle(conn)  # the answer to the message never ends
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        self.sock.close()


@pytest.fixture
def trickling_smtp(settings):
    servers = []

    def start(stall_at):
        server = TricklingSmtp(stall_at)
        servers.append(server)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_TIMEOUT = 30  # no single read waits this long: only the deadline cuts
        settings.SMTP_DEADLINE_SECONDS = 1.0
        return server

    yield start
    for server in servers:
        server.stop()


def _mail(key):
    return OutboxMessage.objects.create(
        channel="email", recipient="ops@example.com", subject="S", body="b", dedupe_key=key
    )


@pytest.mark.parametrize("stall_at", ["banner", "data"])
def test_a_trickling_mail_server_is_cut_off_at_the_deadline(db, trickling_smtp, stall_at):
    trickling_smtp(stall_at)
    _mail(f"slow-{stall_at}")
    drain()
    message = OutboxMessage.objects.get(dedupe_key=f"slow-{stall_at}")
    assert message.state == "queued"
    assert "did not finish within 1 seconds" in message.last_error
