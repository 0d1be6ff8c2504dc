"""Outbound requests cannot stall a worker or probe its network: an overall deadline, a cap on
the answer, the connection made to the address that was checked, private addresses only for
the demo's own receiver, and masked addresses that stay masked."""

import socket
import threading
import time

import httpx
import pytest
from django.test import Client

from tideover.core import http
from tideover.notifications.models import OutboxMessage, Subscriber
from tideover.notifications.outbox import drain


class RawServer:
    """A loopback TCP server that answers every connection with ``behave(conn)``."""

    def __init__(self, behave):
        self.behave = behave
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            try:
                conn.recv(65536)
                self.behave(conn, self.stopped)
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        self.sock.close()


def _trickle(conn, stopped):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    while not stopped.is_set():  # one byte every 0.2 s: no single read ever times out
        conn.sendall(b".")
        time.sleep(0.2)


def _flood(conn, stopped):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n")
    for _ in range(5000):
        if stopped.is_set():
            return
        conn.sendall(b"x" * 1000)


@pytest.fixture
def raw_server():
    servers = []

    def start(behave):
        server = RawServer(behave)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_a_trickling_endpoint_cannot_hold_a_worker_past_the_deadline(
    db, settings, raw_server, make_subscriber
):
    settings.HTTP_TIMEOUT_SECONDS = 5.0  # each read gets a byte well within this
    settings.HTTP_DEADLINE_SECONDS = 1.0
    server = raw_server(_trickle)
    url = f"http://127.0.0.1:{server.port}/hook"
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        http.post_signed_json(url, {"x": 1}, secret="s", delivery_id="d")
    # The trickle would take 200 s; the bound only tells "cut at the deadline" from "waited"
    # (generous: a loaded machine may take several seconds to notice the cut).
    assert time.monotonic() - started < 60
    # Through the outbox: the attempt fails and is retried later, the worker moves on.
    make_subscriber(channel="webhook", address=url, secret="s")
    OutboxMessage.objects.create(
        channel="webhook", recipient=url, body="b", dedupe_key="trickle", subscriber=None
    )
    started = time.monotonic()
    drain()
    assert time.monotonic() - started < 60  # not the trickle's 200 s
    message = OutboxMessage.objects.get(dedupe_key="trickle")
    assert message.state == "queued" and "timed out" in message.last_error


def test_an_endpoint_answering_too_much_is_cut_off(db, settings, raw_server):
    settings.HTTP_MAX_RESPONSE_BYTES = 10_000
    server = raw_server(_flood)
    with pytest.raises(http.ResponseTooLarge):
        http.post_json(f"http://127.0.0.1:{server.port}/hook", {"x": 1})


def test_the_connection_goes_to_the_address_that_was_checked(db, settings, http_sink, monkeypatch):
    """A rebinding name answers a public address to the check and loopback right after."""
    settings.WEBHOOK_ALLOW_PRIVATE = False
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"] + ["127.0.0.1"] * 10)
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.com":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(httpx.ConnectError):
        # The checked public address is where it connects (and this test may not leave the
        # machine, so that connection fails); loopback is never tried.
        http.post_json(f"http://rebind.example.com:{http_sink.port}/hook/x", {"x": 1})
    assert lookups == ["rebind.example.com"]
    assert http_sink.webhooks == [] and http_sink.refused == []


def test_private_addresses_are_allowed_only_for_the_listed_receiver(
    db, settings, http_sink, raw_server
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_PRIVATE_ALLOWLIST = [f"127.0.0.1:{http_sink.port}"]
    other = raw_server(_flood)
    ours = Client().post("/subscribe/", {"channel": "webhook", "url": f"{http_sink.url}/hook/a"})
    assert ours.status_code == 200
    for url in (
        f"http://127.0.0.1:{other.port}/x",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{http_sink.port}/hook/b",
    ):
        refused = Client().post("/subscribe/", {"channel": "webhook", "url": url})
        assert refused.status_code == 400 and b"public address" in refused.content, url
    assert Subscriber.objects.count() == 1
    # At send time too: only the listed address:port is reached.
    http_sink.secrets["/hook/a"] = "k"
    assert http.post_signed_json(
        f"{http_sink.url}/hook/a", {"x": 1}, secret="k", delivery_id="d1"
    ).is_success
    with pytest.raises(http.UnsafeAddress):
        http.post_json(f"http://127.0.0.1:{other.port}/x", {"x": 1})
    assert other.connections == 0


def test_the_demo_allows_private_addresses_only_for_its_own_receiver(tmp_path):
    from tideover.notifications.demo import start_local_sinks

    sinks = start_local_sinks(tmp_path)
    try:
        assert "WEBHOOK_ALLOW_PRIVATE" not in sinks.env
        [allowed] = sinks.env["WEBHOOK_PRIVATE_ALLOWLIST"].split(",")
        assert sinks.env["DEMO_WEBHOOK_URL"].startswith(f"http://{allowed}/")
    finally:
        sinks.stop()


def test_retry_through_the_api_never_reveals_a_masked_address(db, api_token):
    message = OutboxMessage.objects.create(
        channel="sms", recipient="+15125550177", body="Hi", dedupe_key="m1", state="failed"
    )
    answer = Client().post(
        f"/api/v1/notifications/messages/{message.pk}/retry", **api_token("subscribers:write")
    )
    assert answer.status_code == 200
    assert answer.json()["recipient"] != "+15125550177" and "555" not in answer.json()["recipient"]
    message.refresh_from_db()
    assert message.state == "queued" and message.recipient == "+15125550177"


def _chat_message(url, key):
    return OutboxMessage.objects.create(
        channel="chat", recipient=url, category="internal", subject="Ops", body="b", dedupe_key=key
    )


def test_chat_through_apprise_reaches_only_permitted_addresses(db, settings, http_sink):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    _chat_message(f"json://127.0.0.1:{http_sink.port}/chat", "chat-private")
    assert drain() == {"failed": 1}
    message = OutboxMessage.objects.get(dedupe_key="chat-private")
    assert "public address" in message.last_error and http_sink.chat == []
    # The operator's own receiver, listed by address and port, is reached.
    settings.WEBHOOK_PRIVATE_ALLOWLIST = [f"127.0.0.1:{http_sink.port}"]
    _chat_message(f"json://127.0.0.1:{http_sink.port}/chat", "chat-listed")
    assert drain() == {"sent": 1}
    assert len(http_sink.chat) == 1


def test_chat_to_a_trickling_server_is_cut_off_at_the_deadline(db, settings, raw_server):
    settings.HTTP_DEADLINE_SECONDS = 1.0
    server = raw_server(_trickle)
    _chat_message(f"json://127.0.0.1:{server.port}/chat", "chat-slow")
    started = time.monotonic()
    drain()
    # Without the deadline the trickle would take 200 s; the bound only tells the two apart
    # (not a speed test: a loaded machine may take several seconds to notice the cut).
    assert time.monotonic() - started < 60
    message = OutboxMessage.objects.get(dedupe_key="chat-slow")
    assert message.state == "queued" and "did not answer within 1 seconds" in message.last_error


def test_chat_to_a_server_answering_too_much_is_cut_off(db, settings, raw_server):
    settings.HTTP_MAX_RESPONSE_BYTES = 10_000
    server = raw_server(_flood)
    _chat_message(f"json://127.0.0.1:{server.port}/chat", "chat-flood")
    drain()
    message = OutboxMessage.objects.get(dedupe_key="chat-flood")
    assert message.state == "queued"
    assert "answer is longer than 10000 bytes" in message.last_error


def test_chat_answers_are_capped_after_decompression_and_when_chunked(db, settings, raw_server):
    import gzip

    settings.HTTP_MAX_RESPONSE_BYTES = 10_000
    bomb = gzip.compress(b"x" * 2_000_000)  # about 2 kB on the wire, 2 MB unpacked

    def gzipped_chunks(conn, stopped):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(bomb):x}\r\n".encode()
            + bomb
            + b"\r\n0\r\n\r\n"
        )

    server = raw_server(gzipped_chunks)
    _chat_message(f"json://127.0.0.1:{server.port}/chat", "chat-bomb")
    drain()
    message = OutboxMessage.objects.get(dedupe_key="chat-bomb")
    assert "answer is longer than 10000 bytes" in message.last_error


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 to 169.254.169.254, the cloud metadata service
        ("64:ff9b::7f00:1", False),  # NAT64 to 127.0.0.1
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 to 10.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 from 169.254.169.254
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::ffff:0:a00:1", False),  # SIIT to 10.0.0.1
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("fec0::1", False),  # site-local
        ("64:ff9b::808:808", True),  # NAT64 to a public address is that address
        ("2002:808:808::1", True),
        ("2606:4700::1111", True),
    ],
)
def test_an_ipv6_address_carrying_an_ipv4_one_is_as_public_as_that_one(
    db, settings, monkeypatch, address, public
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host != "hook.example.com":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert http.public_ip(address) is public
    if public:
        assert http.checked_address("hook.example.com", 443) == address
    else:
        with pytest.raises(http.UnsafeAddress):
            http.checked_address("hook.example.com", 443)


def test_a_compressed_answer_within_the_cap_is_read_as_its_decoded_text(db, settings, raw_server):
    import gzip

    settings.HTTP_MAX_RESPONSE_BYTES = 10_000
    answer = gzip.compress(b'{"proof": "' + b"a" * 5_000 + b'"}')

    def gzipped(conn, stopped):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )

    server = raw_server(gzipped)
    response = http.post_signed_json(
        f"http://127.0.0.1:{server.port}/hook", {"x": 1}, secret="s", delivery_id="d"
    )
    assert response.status_code == 200
    assert response.json() == {"proof": "a" * 5_000}
    assert response.content == response.text.encode()
