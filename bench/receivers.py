"""The benchmark's receivers: an SMTP server and a webhook receiver in one small asyncio process.

    .venv/bin/python bench/receivers.py --secret S      # prints "smtp <port> http <port>"

They do what the bench needs a real receiver to do, and little else, so that they take less of
the machine's CPU from the senders than aiosmtpd and http.server do (tideover.notifications.sinks
keeps every message and is what the tests use):

- SMTP: a real SMTP dialogue (220 greeting, EHLO/HELO, MAIL, RCPT, DATA ending at CRLF.CRLF,
  RSET, NOOP, QUIT; commands out of order are refused with 503 like any server would). Each
  message is counted, and a repeated Message-ID is counted as a duplicate.
- Webhooks: HTTP/1.1 with keep-alive. Every POST's Tideover signature is checked with
  ``tideover.core.http.verify_signature`` against ``--secret`` (a bad one is answered 401 and
  counted as refused); a repeated delivery id is acknowledged and counted as a duplicate, as a
  receiver that drops repeats does.
- ``GET /_bench/stats`` answers the counts so far; ``?reset=1`` starts them again (the bench
  sends the same messages twice: once through the outbox, once in the bare loop).

The same receivers serve the outbox and the bare loop in every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tideover.core.http import (  # noqa: E402 (after the path is set)
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class Stats:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.mails = 0
        self.mail_duplicates = 0
        self.message_ids: set[bytes] = set()
        self.webhooks = 0
        self.webhook_duplicates = 0
        self.refused = 0
        self.deliveries: set[str] = set()

    def as_dict(self) -> dict:
        return {
            "mails": self.mails,
            "mail_duplicates": self.mail_duplicates,
            "webhooks": self.webhooks,
            "webhook_duplicates": self.webhook_duplicates,
            "refused": self.refused,
        }


class SmtpReceiver(asyncio.Protocol):
    """One SMTP session."""

    def __init__(self, stats: Stats):
        self.stats = stats
        self.buffer = bytearray()
        self.greeted = False
        self.sender = False
        self.recipients = 0
        self.in_data = False

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 bench-receiver ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = []
        while True:
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    end, skip = end + 2, 3  # the message keeps its last line's CRLF
                content = bytes(self.buffer[:end])
                del self.buffer[: end + skip]
                self._received(content)
                answers.append(b"250 2.0.0 OK: queued\r\n")
                self.in_data = False
                self.sender, self.recipients = False, 0
                continue
            cut = self.buffer.find(b"\r\n")
            if cut < 0:
                if len(self.buffer) > 4096:
                    answers.append(b"500 5.5.2 Line too long\r\n")
                    self.buffer.clear()
                break
            line = bytes(self.buffer[:cut])
            del self.buffer[: cut + 2]
            answer = self._command(line)
            answers.append(answer)
            if answer.startswith(b"221"):
                self.transport.write(b"".join(answers))
                self.transport.close()
                return
        if answers:
            self.transport.write(b"".join(answers))

    def _command(self, line: bytes) -> bytes:
        verb, _, rest = line.partition(b" ")
        verb = verb.upper()
        if verb == b"EHLO":
            self.greeted, self.sender, self.recipients = True, False, 0
            return b"250-bench-receiver\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n"
        if verb == b"HELO":
            self.greeted, self.sender, self.recipients = True, False, 0
            return b"250 bench-receiver\r\n"
        if verb == b"MAIL":
            if not self.greeted:
                return b"503 5.5.1 Error: send HELO first\r\n"
            if not rest.upper().startswith(b"FROM:"):
                return b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
            self.sender, self.recipients = True, 0
            return b"250 2.1.0 OK\r\n"
        if verb == b"RCPT":
            if not self.sender:
                return b"503 5.5.1 Error: need MAIL command\r\n"
            if not rest.upper().startswith(b"TO:"):
                return b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"
            self.recipients += 1
            return b"250 2.1.5 OK\r\n"
        if verb == b"DATA":
            if not self.recipients:
                return b"503 5.5.1 Error: need RCPT command\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"RSET":
            self.sender, self.recipients = False, 0
            return b"250 2.0.0 OK\r\n"
        if verb == b"NOOP":
            return b"250 2.0.0 OK\r\n"
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        return b'500 5.5.2 Error: command "' + verb[:20] + b'" not recognized\r\n'

    def _received(self, content: bytes) -> None:
        stats = self.stats
        stats.mails += 1
        head = content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        if found:
            if found.group(1) in stats.message_ids:
                stats.mail_duplicates += 1
            else:
                stats.message_ids.add(found.group(1))


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _answer(status: str, body: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class HttpReceiver(asyncio.Protocol):
    """One HTTP/1.1 connection (keep-alive; bodies by Content-Length)."""

    def __init__(self, stats: Stats, secret: str):
        self.stats = stats
        self.secret = secret
        self.buffer = bytearray()
        self.request = None  # (method, target, headers, length) once the head is read

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = []
        close = False
        while True:
            if self.request is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = bytes(self.buffer[:end]).decode("latin-1")
                del self.buffer[: end + 4]
                first, *lines = head.split("\r\n")
                try:
                    method, target, _version = first.split(" ", 2)
                except ValueError:
                    answers.append(_answer("400 Bad Request", b'{"error": "bad request line"}'))
                    close = True
                    break
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    answers.append(_answer("411 Length Required", b'{"error": "no chunks"}'))
                    close = True
                    break
                length = int(headers.get("content-length") or 0)
                self.request = (method, target, headers, length)
            method, target, headers, length = self.request
            if len(self.buffer) < length:
                break
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            self.request = None
            answers.append(self._handle(method, target, headers, body))
            if headers.get("connection", "").lower() == "close":
                close = True
                break
        if answers:
            self.transport.write(b"".join(answers))
        if close:
            self.transport.close()

    def _handle(self, method: str, target: str, headers: dict, body: bytes) -> bytes:
        stats = self.stats
        if method == "GET" and target.startswith("/_bench/stats"):
            answer = json.dumps(stats.as_dict()).encode()
            if parse_qs(urlsplit(target).query).get("reset"):
                stats.reset()
            return _answer("200 OK", answer)
        if method != "POST":
            return _answer("405 Method Not Allowed", b'{"error": "POST only"}')
        ok = verify_signature(
            self.secret,
            body,
            timestamp=headers.get(TIMESTAMP_HEADER.lower()),
            signature=headers.get(SIGNATURE_HEADER.lower()),
        )
        if not ok:
            stats.refused += 1
            return _answer("401 Unauthorized", b'{"error": "bad signature"}')
        stats.webhooks += 1
        delivery = headers.get(DELIVERY_HEADER.lower(), "")
        if delivery in stats.deliveries:
            stats.webhook_duplicates += 1  # acknowledged, not acted on twice
        else:
            stats.deliveries.add(delivery)
        return OK


async def serve(secret: str, smtp_port: int, http_port: int) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    smtp = await loop.create_server(lambda: SmtpReceiver(stats), "127.0.0.1", smtp_port)
    http = await loop.create_server(lambda: HttpReceiver(stats, secret), "127.0.0.1", http_port)
    ports = (s.sockets[0].getsockname()[1] for s in (smtp, http))
    print("smtp {} http {}".format(*ports), flush=True)
    await asyncio.Event().wait()  # until the bench terminates this process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secret", required=True, help="the webhooks' signing secret")
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.secret, args.smtp_port, args.http_port))  # ends on SIGTERM


if __name__ == "__main__":
    main()
