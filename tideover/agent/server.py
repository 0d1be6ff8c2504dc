"""The agent's HTTP service for registers, and its small status page for staff.

Server: the standard library's ``ThreadingHTTPServer``. Why: a store has a handful of registers,
so a thread per connection is plenty; it needs no dependency on the store box and no second
process — and one process matters here, because the SQLite journal has one writer and the card
policy's check-then-insert runs under one in-process lock. Granian (HQ's server) would bring
worker processes that contend on that file lock for no gain at a store's load. HTTP/1.1
keep-alive is on so registers reuse their connection.

Routes (registers use the same paths and request shape as HQ):

- ``POST /api/v1/sales``, ``POST /api/v1/sales:batch``: ``SaleIn`` (tideover.sales.schemas)
- ``GET /api/v1/members/{id}/balance`` (also at HQ's ``/api/v1/loyalty/members/{id}/balance``)
- ``GET /api/v1/sales/{sale_id}``: where one sale stands at the agent (queued, posted, ...)
- ``GET /api/v1/agent/status``; ``POST /api/v1/agent/sync``; ``POST /api/v1/agent/offline``;
  ``POST /api/v1/agent/sales/{sale_id}/dealt-with`` (manager PIN); all three POSTs with the
  register key when one is set
- ``GET /`` the status page; its forms post to ``/sync``, ``/offline`` and ``/dealt-with``,
  refused from another site's page (Origin)
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tideover.agent.hq import HQUnavailable
from tideover.agent.page import render_status
from tideover.agent.service import Agent

log = logging.getLogger("tideover.agent")
MAX_BODY = 4 * 1024 * 1024
MAX_BATCH = 1000
MAX_HEADERS, MAX_LINE = 100, 65536  # as the standard library's http.client bounds them
_NOT_JSON = object()
BALANCE = re.compile(r"^/api/v1/(?:loyalty/)?members/([A-Za-z0-9._:\-]{1,32})/balance$")
ONE_SALE = re.compile(r"^/api/v1/sales/([A-Za-z0-9._:\-]{1,64})$")
DEALT_WITH = re.compile(r"^/api/v1/agent/sales/([A-Za-z0-9._:\-]{1,64})/dealt-with$")


class Headers(dict):
    """Request headers by lower-case name; ``get`` takes any case, as e-mail headers do."""

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)


# Connections served at once; one more is answered 503 and closed. Registers keep one each.
MAX_CONNECTIONS = 256
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b'Connection: close\r\nContent-Length: 56\r\n\r\n{"detail": "The agent is busy; send again in a second."}'
)


class AgentServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, agent: Agent, address: tuple[str, int]):
        self.agent = agent
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        """A thread per connection, up to MAX_CONNECTIONS: past that, 503 at once (connections
        a stalled register left open could otherwise take every thread and file)."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started ("can't start new thread"): not held
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A connection that sends nothing for this long (a register gone mid-request, a body
    # shorter than its Content-Length, an idle kept-alive one) is closed.
    timeout = 30
    # Answers are small and go out as headers then body: without TCP_NODELAY the body waits
    # for the client's delayed ACK (~40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True
    server_version = "TideoverAgent"
    sys_version = ""

    @property
    def agent(self) -> Agent:
        return self.server.agent

    def log_message(self, format, *args):  # no access log: addresses and ids stay off disk
        return

    def parse_request(self) -> bool:
        """The request line and headers, without the e-mail parser the standard library uses
        for headers (about a third of the agent's CPU per sale went there): HTTP/1.0 and 1.1,
        the few headers the agent reads, bounded in count and length as the standard
        library bounds them. Anything else gets a 400 and the connection is closed."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            if words:
                self.request_version = "HTTP/1.1"  # an answer with a status line, not 0.9's
                self.send_error(400, "Send HTTP/1.1: METHOD /path HTTP/1.1")
            return False
        self.command, self.path, self.request_version = words
        headers = Headers()
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(line, "iso-8859-1").partition(":")
            if len(line) > MAX_LINE or not colon or not name or name != name.strip():
                self.send_error(400, "A request header is malformed or too long")
                return False
            headers[name.lower()] = value.strip()
        else:
            self.send_error(431, f"Send at most {MAX_HEADERS} headers")
            return False
        self.headers = headers
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if headers.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    # --- plumbing -----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # Headers and body in one write: one packet for a small answer.
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _read_body(self) -> bool:
        """Read the whole body first, whatever the answer: on a kept-alive connection unread
        bytes would be taken for the next request."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._json(413, {"detail": f"Send at most {MAX_BODY} bytes with a Content-Length"})
            return False
        self.raw = self.rfile.read(length) if length else b""
        return True

    def _json_body(self):
        try:
            return json.loads(self.raw or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested past any sale
            return _NOT_JSON

    def _from_this_page(self) -> bool:
        """A form posted from the agent's own page, not from another site a browser on the
        store's network has open (browsers name the page's origin on every form post)."""
        origin = self.headers.get("origin")
        if origin is None or origin.removeprefix("http://") == self.headers.get("host", ""):
            return True
        self._json(403, {"detail": "Use the buttons on the agent's own page"})
        return False

    def _register_allowed(self) -> bool:
        key = self.agent.config.register_key
        if not key:
            return True
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), key.encode()):
            return True
        self._json(401, {"detail": "Send the store's register key as 'Authorization: Bearer ...'"})
        return False

    # --- routes -------------------------------------------------------------------------
    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path in ("/", "/status"):
            error = parse_qs(query).get("error", [""])[0][:200]
            page = render_status(self.agent.status(), error)
            self._send(200, page.encode(), "text/html; charset=utf-8")
        elif path == "/api/v1/agent/status":
            self._json(200, self.agent.status())
        elif path == "/healthz":
            self._send(200, b"ok", "text/plain")
        elif match := BALANCE.match(path):
            if self._register_allowed():
                self._json(200, self.agent.balance(match.group(1)))
        elif match := ONE_SALE.match(path):
            if self._register_allowed():
                self._one_sale(match.group(1))
        else:
            self._json(404, {"detail": f"No such page: {path}"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if not self._read_body():
            return
        if path == "/api/v1/sales":
            self._post_sales(single=True)
        elif path == "/api/v1/sales:batch":
            self._post_sales(single=False)
        elif path == "/api/v1/agent/sync":
            if self._register_allowed():
                self._sync(page=False)
        elif path == "/sync":
            if self._from_this_page():
                self._sync(page=True)
        # The manager's switches: from the agent's own page, or with the register key.
        elif path == "/offline":
            if self._from_this_page():
                self._offline(page=True)
        elif path == "/api/v1/agent/offline":
            if self._register_allowed():
                self._offline(page=False)
        elif path == "/dealt-with":
            if self._from_this_page():
                self._dealt_with(None)
        elif match := DEALT_WITH.match(path):
            if self._register_allowed():
                self._dealt_with(match.group(1))
        else:
            self._json(404, {"detail": f"No such endpoint: {path}"})

    def _post_sales(self, *, single: bool) -> None:
        if not self._register_allowed():
            return
        data = self._json_body()
        if data is _NOT_JSON:
            self._json(400, {"detail": "The body is not JSON"})
            return
        if single:
            if not isinstance(data, dict):
                self._json(422, {"detail": "Send one sale as a JSON object (SaleIn)"})
                return
            answer = self.agent.accept([data])[0]
            self._json(200, answer.as_dict())
            return
        sales = data.get("sales") if isinstance(data, dict) else None
        if not isinstance(sales, list) or not sales:
            self._json(422, {"detail": "sales: send a list of at least one sale"})
            return
        if len(sales) > MAX_BATCH:
            self._json(400, {"detail": f"Send at most {MAX_BATCH} sales per batch"})
            return
        answers = self.agent.accept(sales)
        counts = {kind: 0 for kind in ("accepted", "duplicate", "refused")}
        for answer in answers:
            counts[answer.result] += 1
        self._json(200, {**counts, "results": [a.as_dict() for a in answers]})

    def _one_sale(self, sale_id: str) -> None:
        state = self.agent.sale_state(sale_id)
        if state is None:
            self._json(404, {"detail": f"This agent has no sale {sale_id}"})
        else:
            self._json(200, state)

    def _sync(self, *, page: bool) -> None:
        agent = self.agent
        if agent.forced_offline:
            result = {"detail": "Forced offline is on; switch it off to send", "sent": 0}
        else:
            try:
                agent.journal.retry_quarantined_now()  # staff asked: quarantined sales too
                # What HQ answered marks the link good (the forwarder's _succeeded); a drain
                # with nothing to send asked HQ nothing and proves nothing.
                result = agent.forwarder.drain()
                result["detail"] = "Sent" if result["sent"] else "Nothing to send"
            except HQUnavailable as exc:
                agent.link_failed(str(exc))
                agent.forwarder.send_now()
                result = {"detail": str(exc), "sent": 0}
        result["queue_depth"] = agent.journal.queued
        if page:
            self._redirect()
        else:
            self._json(200, result)

    def _offline(self, *, page: bool) -> None:
        if page:
            form = {k: v[0] for k, v in parse_qs(self.raw.decode("utf-8", "replace")).items()}
        else:
            form = self._json_body()
            if not isinstance(form, dict):
                self._json(422, {"detail": "Send {'on': true|false, 'pin': '...'}"})
                return
        on = str(form.get("on", "")).lower() in ("1", "true", "on", "yes")
        error = self.agent.force_offline(
            on,
            str(form.get("pin", "")),
            who=str(form.get("who", "")),
            reason=str(form.get("reason", "")),
            client=self.client_address[0],
        )
        if page:
            self._redirect(error)
        elif error:
            self._json(403, {"detail": error})
        else:
            self._json(200, {"forced_offline": self.agent.forced_offline, "mode": self.agent.mode})

    def _dealt_with(self, sale_id: str | None) -> None:
        """A manager marks a rejected or conflicting sale as dealt with (page: sale_id in the
        form; API: in the path)."""
        page = sale_id is None
        if page:
            form = {k: v[0] for k, v in parse_qs(self.raw.decode("utf-8", "replace")).items()}
        else:
            form = self._json_body()
            if not isinstance(form, dict):
                self._json(422, {"detail": "Send {'pin': '...', 'who': '...', 'note': '...'}"})
                return
        sale_id = sale_id or str(form.get("sale_id", "")).strip()[:64]
        error = self.agent.deal_with(
            sale_id,
            str(form.get("pin", "")),
            who=str(form.get("who", "")),
            note=str(form.get("note", "")),
            client=self.client_address[0],
        )
        if page:
            self._redirect(error)
        elif error:
            status = 404 if error.startswith("This agent has no sale") else 403
            if "not waiting for staff" in error or "already marked" in error:
                status = 409
            self._json(status, {"detail": error})
        else:
            self._json(
                200, {"sale_id": sale_id, "dealt_with": True, **self.agent.sale_state(sale_id)}
            )

    def _redirect(self, error: str = "") -> None:
        from urllib.parse import quote

        self.send_response(303)
        self.send_header("Location", "/" + (f"?error={quote(error)}" if error else ""))
        self.send_header("Content-Length", "0")
        self.end_headers()


def serve(agent: Agent, host: str, port: int) -> AgentServer:
    return AgentServer(agent, (host, port))
