"""Answers that are not quite HQ's: a captive portal's 200 page marks the link failed (the
agent does not show "online"), and a batch answer missing a sale's result leaves that sale
queued without the forwarder sending it again and again."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale


def _server(answer):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind, body = answer(self.path)
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    return server


@pytest.fixture
def agent_behind(tmp_path):
    made = []

    def make(answer) -> Agent:
        server = _server(answer)
        hq = f"http://127.0.0.1:{server.server_address[1]}"
        config = AgentConfig(store="S001", hq=hq, token="t", data=str(tmp_path)).check()
        made.append((server, Agent(config)))
        return made[-1][1]

    yield make
    for server, agent in made:
        agent.stop()
        server.shutdown()
        server.server_close()


def test_a_captive_portals_200_page_marks_the_link_failed(agent_behind):
    agent = agent_behind(lambda path: ("text/html", b"<html>Sign in to Store WiFi</html>"))
    agent.link_ok()
    assert not agent.heartbeat()
    assert agent.mode == "offline" and "captive portal" in agent.link_error
    agent.accept([sale()])
    with pytest.raises(Exception, match="captive portal"):
        agent.forwarder.forward_once()
    assert agent.journal.queued == 1


def test_a_sale_missing_from_hqs_answer_stays_queued_and_the_drain_ends(agent_behind):
    answer = json.dumps({"results": []}).encode()
    agent = agent_behind(lambda path: ("application/json", answer))
    agent.accept([sale(), sale()])
    assert agent.forwarder.drain() == {"sent": 0}
    assert agent.journal.queued == 2
    counts = agent.forwarder.forward_once()
    assert counts["unanswered"] == 2 and counts["sent"] == 0
