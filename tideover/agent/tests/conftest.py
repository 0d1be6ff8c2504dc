"""Agents under test talk to a real HQ: Django's live server on loopback, same API as production
(the fault-injection test runs HQ under the real server command instead)."""

from __future__ import annotations

import itertools
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.server import serve
from tideover.agent.service import Agent

_numbers = itertools.count(1)


def sale(*, cents=2500, member=None, tender="cash", sale_id=None, store="S001", **extra) -> dict:
    """A register's sale a few minutes ago (inside HQ's occurred_at bounds)."""
    number = next(_numbers)
    return {
        "sale_id": sale_id or f"{store}-R1-T{number:07d}",
        "store": store,
        "register": "R1",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=30, seconds=-number)).isoformat(),
        "member_id": member,
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": cents}],
        "tenders": [{"kind": tender, "amount_cents": cents}],
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def store_secret(transactional_db, chain):
    """A store token as `tideover createtoken --store S001` makes for an agent."""
    from tideover.core.services import create_api_token

    def make(code: str = "S001") -> str:
        _, secret = create_api_token(
            name=f"agent {code}",
            scopes=["sales:write", "heartbeats:write", "loyalty:read"],
            store=chain["stores"][code],
        )
        return secret

    return make


@pytest.fixture
def make_agent(tmp_path, store_secret, live_server):
    """make_agent(hq=URL or None (the live server), store="S001", transport=None (httpx's, to
    HQ), **settings) -> Agent."""
    made = []

    def make(*, hq: str | None = None, store: str = "S001", transport=None, **settings) -> Agent:
        config = AgentConfig(
            store=store,
            hq=hq or live_server.url,
            token=settings.pop("token", None) or store_secret(store),
            data=settings.pop("data", None) or str(tmp_path / f"agent-{store}-{len(made)}"),
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.2,
            hq_timeout_seconds=30,  # the live server's first request imports the URLs
            **settings,
        ).check()
        agent = Agent(config, transport=transport)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.stop()


@pytest.fixture
def down_url() -> str:
    """An HQ address nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def http_agent(make_agent):
    """An agent with its HTTP service on a free loopback port: (agent, httpx client). With
    ``background=True`` its forwarder and heartbeats run too, as in ``tideover agent run``."""
    servers = []

    def make(*, background: bool = False, **kwargs):
        agent = make_agent(**kwargs)
        server = serve(agent, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        if background:
            agent.start()
        servers.append(server)
        return agent, httpx.Client(base_url=server.url, trust_env=False, timeout=10)

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def between(tmp_path):
    """between(answers, **settings) -> Agent talking to a loopback server that answers each
    path with ``answers[path]`` (or ``answers["*"]``): (status, type, body[, headers])."""
    made = []

    def make(answers: dict, **settings) -> Agent:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, kind, body, *headers = answers.get(self.path.split("?")[0], answers["*"])
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        config = AgentConfig(
            store="S001",
            hq=f"http://127.0.0.1:{server.server_address[1]}",
            token="t",
            data=str(tmp_path / str(len(made))),
            **settings,
        )
        made.append((server, Agent(config.check())))
        return made[-1][1]

    yield make
    for server, agent in made:
        agent.stop()
        server.shutdown()
        server.server_close()
