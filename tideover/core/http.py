"""Every outbound HTTP request goes through here: one place for timeouts, the user agent,
webhook signatures and the Twilio SDK's transport (so tests point it at loopback servers).

Webhook signature (documented in docs/notifications.md): the sender adds

  Tideover-Delivery:  a unique id per message; a retry of the same message repeats it
  Tideover-Timestamp: Unix seconds when this attempt was signed
  Tideover-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Receivers recompute the HMAC, compare in constant time, refuse timestamps outside the replay
window and drop deliveries whose id they have already seen.

Limits on every request (a receiver is anyone who signed up, so it may be slow or hostile):

- An overall deadline (``HTTP_DEADLINE_SECONDS``) over connecting, sending and reading, not
  just per read: an endpoint that trickles one byte every few seconds cannot hold a worker.
- A cap on the answer's size (``HTTP_MAX_RESPONSE_BYTES``), counted after decompression.
- For subscriber and staff URLs, the connection goes to an address resolved and checked in the
  same step (``GuardedBackend.connect_tcp``): there is no second DNS lookup between the check
  and the connect for a rebinding name to answer differently. Only public addresses pass, plus
  the exact ``host:port`` pairs in ``WEBHOOK_PRIVATE_ALLOWLIST`` (the demo's own receiver), or
  anything with ``WEBHOOK_ALLOW_PRIVATE`` on (tests and development only).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager, suppress

import httpcore
import httpx
from django.conf import settings

# Webhook signing lives in core.signing; its names stay importable from here.
from tideover.core.public_addresses import allowlisted, public_ip
from tideover.core.signing import (  # noqa: F401
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_VERSION,
    TIMESTAMP_HEADER,
    compute_signature,
    signed_headers,
    verify_signature,
)

USER_AGENT = "Tideover/0.1 (+status notifications)"

_local = threading.local()


class UnsafeAddress(Exception):
    """The URL's host is (or resolves to) an address that is not on the public internet."""


class ResponseTooLarge(Exception):
    """The answer was longer than HTTP_MAX_RESPONSE_BYTES."""


class _Guard(threading.local):
    """What the request this thread is making may do: until when, and to which addresses."""

    deadline: float | None = None  # time.monotonic() by which the request must be done
    public_only: bool = False
    opened: list | None = None  # sockets opened under guarded_sockets(), to cut at the deadline
    outcome = None  # what guarded_sockets() reports back


_guard = _Guard()


@contextmanager
def _guarded(*, public_only: bool, seconds: float | None = None):
    _guard.deadline = time.monotonic() + (seconds or settings.HTTP_DEADLINE_SECONDS)
    _guard.public_only = public_only
    try:
        yield
    finally:
        _guard.deadline = None
        _guard.public_only = False
        _guard.opened = _guard.outcome = None


def _time_left(timeout: float | None, error=httpcore.ReadTimeout) -> float | None:
    if _guard.deadline is None:
        return timeout
    left = _guard.deadline - time.monotonic()
    if left <= 0:
        raise error("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits no longer than the deadline allows."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """Connects to the address it checked (and only a permitted one), under the deadline."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        address = checked_address(host, port) if _guard.public_only else host
        stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)


_socket_guard_installed = False
_socket_guard_lock = threading.Lock()


def _guard_connections(original):
    """Wrap a ``create_connection`` so that, while this thread is under ``guarded_sockets``, it
    connects only to the address it checked, and its socket is remembered for the deadline."""

    def create_connection(address, *args, **kwargs):
        if _guard.deadline is None:
            return original(address, *args, **kwargs)
        host, port = address[0], address[1]
        if _guard.public_only:
            try:
                host = checked_address(host, port)
            except httpcore.ConnectError as exc:
                raise OSError(str(exc)) from exc
            except UnsafeAddress as exc:
                # The library may swallow the exception; the caller still learns of it.
                if _guard.outcome is not None:
                    _guard.outcome.refused = str(exc)
                raise
        sock = original((host, port), *args, **kwargs)
        if _guard.opened is not None:
            _guard.opened.append(sock)
        return sock

    return create_connection


def _capped_decode(original):
    """Wrap urllib3's ``HTTPResponse._decode`` (every body byte a response hands out, chunked or
    not, after decompression) so that, under ``guarded_sockets``, an answer longer than
    HTTP_MAX_RESPONSE_BYTES stops being read."""

    def _decode(self, *args, **kwargs):
        data = original(self, *args, **kwargs)
        outcome = _guard.outcome
        if outcome is not None and data:
            outcome.received += len(data)
            cap = settings.HTTP_MAX_RESPONSE_BYTES
            if outcome.received > cap:
                outcome.too_large = f"the answer is longer than {cap} bytes"
                raise ResponseTooLarge(outcome.too_large)
        return data

    return _decode


def _install_socket_guard() -> None:
    # Apprise brings its own HTTP stack (requests on urllib3) and some plugins use plain
    # sockets (smtplib), with no hook for where they connect or how much they read. Their
    # connection functions and urllib3's body decoding are wrapped once, and do nothing
    # different outside guarded_sockets() in the calling thread.
    global _socket_guard_installed
    with _socket_guard_lock:
        if _socket_guard_installed:
            return
        import urllib3.response
        import urllib3.util.connection

        urllib3.util.connection.create_connection = _guard_connections(
            urllib3.util.connection.create_connection
        )
        socket.create_connection = _guard_connections(socket.create_connection)
        urllib3.response.HTTPResponse._decode = _capped_decode(
            urllib3.response.HTTPResponse._decode
        )
        _socket_guard_installed = True


class _Outcome:
    """What a ``guarded_sockets`` block reports back."""

    __slots__ = ("timed_out", "refused", "too_large", "received")

    def __init__(self):
        self.timed_out = False
        self.refused = ""
        self.too_large = ""
        self.received = 0


@contextmanager
def guarded_sockets(*, public_only: bool = True, seconds: float | None = None, current=None):
    """Run a library that makes its own connections (apprise) under the same rules as our own
    requests: each connection goes to a checked address, every socket opened is shut when
    the overall deadline passes (a trickling server cannot hold the worker), and an HTTP answer
    read through urllib3 stops at HTTP_MAX_RESPONSE_BYTES. On the yielded object ``.timed_out``
    says whether the deadline cut it short, ``.refused`` why an address was refused and
    ``.too_large`` why an answer was cut (the library may have swallowed the exception).

    ``seconds`` replaces HTTP_DEADLINE_SECONDS; ``current``, if given, returns the socket in
    use right now (for a connection opened before the block, or one TLS has wrapped since: the
    socket that was opened is then no longer the one to shut)."""
    if not _socket_guard_installed:
        _install_socket_guard()
    outcome, opened = _Outcome(), []

    def cut():
        outcome.timed_out = True
        in_use = current() if current is not None else None
        for sock in [*opened, *([in_use] if in_use is not None else [])]:
            with suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    with _guarded(public_only=public_only, seconds=seconds):
        _guard.opened, _guard.outcome = opened, outcome
        alarm = _watchdog.arm(seconds or settings.HTTP_DEADLINE_SECONDS, cut)
        try:
            yield outcome
        finally:
            _watchdog.disarm(alarm)
            _guard.opened = _guard.outcome = None


class _Watchdog:
    """Runs each ``guarded_sockets`` block's cut when its deadline passes, from one thread per
    process. (A ``threading.Timer`` per block started a thread for every e-mail sent.)

    Armed deadlines are few (one per thread inside a block), so the thread sleeps until the
    earliest and is woken only when a new one is earlier than what it waits for."""

    def __init__(self):
        self._pid = None

    def _start(self) -> None:
        # Also after a fork: the parent's thread and lock do not come along.
        self._pid = os.getpid()
        self._lock = threading.Condition()
        self._armed: dict[int, tuple[float, object]] = {}
        self._waiting_until = float("inf")
        self._next = 0
        threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()

    def arm(self, seconds: float, cut) -> int:
        if self._pid != os.getpid():
            with _socket_guard_lock:
                if self._pid != os.getpid():
                    self._start()
        at = time.monotonic() + seconds
        with self._lock:
            self._next += 1
            self._armed[self._next] = (at, cut)
            if at < self._waiting_until:
                self._lock.notify()
            return self._next

    def disarm(self, alarm: int) -> None:
        with self._lock:
            self._armed.pop(alarm, None)

    def _run(self) -> None:
        while True:
            due = []
            with self._lock:
                now = time.monotonic()
                for alarm, (at, cut) in list(self._armed.items()):
                    if at <= now:
                        del self._armed[alarm]
                        due.append(cut)
                if not due:
                    self._waiting_until = min(
                        (at for at, _ in self._armed.values()), default=now + 3600
                    )
                    self._lock.wait(self._waiting_until - now)
                    self._waiting_until = float("inf")
            for cut in due:
                with suppress(Exception):  # a cut that fails must not end the watchdog
                    cut()


_watchdog = _Watchdog()


def client() -> httpx.Client:
    """A keep-alive client per thread (httpx clients are not shared across threads)."""
    found = getattr(_local, "client", None)
    if found is None:
        timeout = httpx.Timeout(settings.HTTP_TIMEOUT_SECONDS, connect=5.0)
        transport = httpx.HTTPTransport()
        # httpx takes no network backend of its own; its pool does, and every connection it
        # opens must go through the guard.
        transport._pool._network_backend = GuardedBackend()
        found = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,  # a webhook that redirects is a misconfiguration, not a hop
            trust_env=False,  # never pick up proxies from the environment
            transport=transport,
        )
        _local.client = found
    return found


def request(method: str, url: str, *, public_only: bool, **kwargs) -> httpx.Response:
    """Make one request under the deadline, reading at most HTTP_MAX_RESPONSE_BYTES.

    ``public_only`` for URLs that subscribers or staff typed (see the module docstring)."""
    if public_only and not url.lower().startswith(("http://", "https://")):
        raise UnsafeAddress("only http and https URLs are allowed")
    cap = settings.HTTP_MAX_RESPONSE_BYTES
    with _guarded(public_only=public_only):
        with client().stream(method, url, **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > cap:
                    raise ResponseTooLarge(f"the answer is longer than {cap} bytes")
    # The body read (decoded, within the cap) is the answer's content: httpx keeps a read
    # body in ``_content``, which ``read()`` would have filled without stopping at the cap.
    # (Building a second Response around it was a tenth of a webhook's CPU.)
    response._content = bytes(body)
    for wire_form in ("content-encoding", "content-length", "transfer-encoding"):
        response.headers.pop(wire_form, None)  # they described the bytes on the wire
    return response


def checked_address(host: str, port: int) -> str:
    """Resolve ``host`` once and return the address to connect to, refusing the lot if any
    address it resolves to is not public (nor allow-listed with this port). A name that
    resolved to a public address at sign-up can point at the worker's own network later, so
    this runs at every connect, and the connect uses what it returned."""
    host = (host or "").rstrip(".").strip("[]")
    if not host:
        raise UnsafeAddress("the URL has no host")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve the host: {type(exc).__name__}") from exc
    addresses = [sockaddr[0] for *_, sockaddr in found]
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return addresses[0]
    for address in addresses:
        if not public_ip(address) and not allowlisted(address, port):
            raise UnsafeAddress(
                "the host resolves to a private, loopback or reserved address; webhooks must "
                "point at a public address"
            )
    return addresses[0]


def post_signed_json(url: str, payload: dict, *, secret: str, delivery_id: str) -> httpx.Response:
    """POST ``payload`` as JSON with the Tideover signature headers (public hosts only)."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = signed_headers(secret, body, delivery_id)
    return request("POST", url, public_only=True, content=body, headers=headers)


def post_json(url: str, payload: dict, headers: dict | None = None) -> httpx.Response:
    """POST ``payload`` as JSON to a public host."""
    return request("POST", url, public_only=True, json=payload, headers=headers or {})


def twilio_http_client():
    """An HTTP client for the Twilio SDK that uses httpx and honours TWILIO_API_BASE."""
    from twilio.http import HttpClient
    from twilio.http.response import Response

    class _TwilioHttpx(HttpClient):
        def __init__(self):
            import logging

            super().__init__(logging.getLogger("tideover.http.twilio"), False, None)

        def request(
            self,
            method,
            url,
            params=None,
            data=None,
            headers=None,
            auth=None,
            timeout=None,
            allow_redirects=False,
        ):
            base = settings.TWILIO_API_BASE.rstrip("/")
            if base and url.startswith("https://api.twilio.com"):
                url = base + url[len("https://api.twilio.com") :]
            # The SDK's own logging would print the recipient's number: deliberately not called.
            # The operator configured this host (Twilio's, or TWILIO_API_BASE): no address
            # check, but the same deadline and answer cap.
            response = request(
                method.upper(),
                url,
                public_only=False,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout or settings.HTTP_TIMEOUT_SECONDS,
            )
            return Response(response.status_code, response.text, response.headers)

    return _TwilioHttpx()
