"""What the agent does at the edges of its HTTP service and its link to HQ: an idle agent
with HQ down stays offline, stalled and surplus connections cannot take it over, bad input
gets an answer, and the send-now route is guarded like the sales routes."""

from __future__ import annotations

import socket
import time

from tideover.agent import server as agent_server
from tideover.agent.tests.conftest import sale


def test_an_idle_agent_with_hq_down_stays_offline_and_marks_its_sales_offline(http_agent, down_url):
    agent, client = http_agent(background=True, hq=down_url, heartbeat_seconds=0.3)
    time.sleep(1.5)  # heartbeats fail; the forwarder, with nothing to send, asks HQ nothing
    modes = set()
    for _ in range(20):
        modes.add(client.get("/api/v1/agent/status").json()["mode"])
        time.sleep(0.05)
    assert modes == {"offline"}
    answer = client.post("/api/v1/sales", json=sale()).json()
    assert answer["result"] == "accepted" and answer["online"] is False
    with agent.journal.lock:
        [(marked,)] = agent.journal.conn.execute(
            "SELECT accepted_offline FROM sales WHERE sale_id = ?", (answer["sale_id"],)
        ).fetchall()
    assert marked == 1
    sync = client.post("/api/v1/agent/sync").json()
    assert sync["detail"] != "Sent" and client.get("/api/v1/agent/status").json()["mode"] == (
        "offline"
    )


def test_a_stalled_connection_is_closed_and_surplus_ones_get_503(http_agent, monkeypatch):
    monkeypatch.setattr(agent_server.Handler, "timeout", 0.5)
    monkeypatch.setattr(agent_server, "MAX_CONNECTIONS", 3)
    agent, client = http_agent()
    host, port = client.base_url.host, client.base_url.port
    stalled = []
    for _ in range(3):
        conn = socket.create_connection((host, port))
        conn.sendall(b"POST /api/v1/sales HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{}")
        stalled.append(conn)
    time.sleep(0.1)
    busy = socket.create_connection((host, port))
    busy.sendall(b"GET /api/v1/agent/status HTTP/1.1\r\nHost: x\r\n\r\n")
    assert busy.recv(100).startswith(b"HTTP/1.1 503")
    time.sleep(1.0)  # past the timeout: the stalled ones are closed and their slots free
    for conn in stalled:
        assert conn.recv(100) == b""
    assert client.post("/api/v1/sales", json=sale()).json()["result"] == "accepted"


def test_nested_json_and_a_lone_surrogate_pin_get_an_answer(http_agent):
    agent, client = http_agent(manager_pin="1234")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert client.post("/api/v1/sales", content=deep).status_code == 400
    # JSON text with a lone surrogate escape, as a register could send it.
    answer = client.post("/api/v1/agent/offline", content=b'{"on": true, "pin": "\\ud800"}')
    assert answer.status_code in (400, 403) and not agent.forced_offline
    done = client.post(
        "/api/v1/agent/offline",
        content=b'{"on": true, "pin": "1234", "reason": "slow HQ \\ud800"}',
    )
    assert done.status_code == 200 and agent.forced_offline
    assert any("forced offline on" in what for _, what in agent.journal.recent_log())


def test_send_now_needs_the_register_key_and_the_agents_own_page(http_agent):
    agent, client = http_agent(register_key="k-9")
    assert client.post("/api/v1/agent/sync").status_code == 401
    keyed = client.post("/api/v1/agent/sync", headers={"Authorization": "Bearer k-9"})
    assert keyed.status_code == 200
    elsewhere = client.post("/sync", headers={"Origin": "http://evil.example"})
    assert elsewhere.status_code == 403
    own = client.post("/sync", headers={"Origin": str(client.base_url).rstrip("/")})
    assert own.status_code == 303


def test_a_batch_larger_than_hq_takes_is_sent_in_smaller_ones(make_agent, settings):
    """HQ's body limit is in bytes, the agent's batch in sales: a 413 halves the batch as a
    400 does, instead of the same batch being sent again for ever."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 6_000  # a few sales' worth
    agent = make_agent(batch_size=64)
    agent.accept([sale() for _ in range(40)])
    for _ in range(20):
        try:
            agent.forwarder.drain()
            break
        except Exception:  # HQ asked for smaller batches: the next try sends them
            continue
    assert agent.journal.queued == 0
    assert agent.forwarder.batch_size < 64


def test_old_posted_sales_and_log_lines_go_and_nothing_unsent_or_unresolved_does(make_agent):
    import time as clock

    agent = make_agent(hq="http://127.0.0.1:9")
    sales = [sale() for _ in range(5)]
    agent.accept(sales)
    long_ago = clock.time() - 40 * 86400
    states = [
        ("posted", long_ago, None),  # goes
        ("posted", clock.time(), None),  # recent: stays
        ("conflict", long_ago, None),  # waiting for staff: stays
        ("rejected", long_ago, long_ago),  # dealt with long ago: goes
        ("queued", None, None),  # unsent: stays
    ]
    with agent.journal.lock:
        for row, (state, settled, dealt) in zip(sales, states, strict=True):
            agent.journal.conn.execute(
                "UPDATE sales SET state = ?, settled_at = ?, dealt_at = ? WHERE sale_id = ?",
                (state, settled, dealt, row["sale_id"]),
            )
        agent.journal.conn.execute("INSERT INTO log (at, what) VALUES (?, 'old')", (long_ago,))
    assert agent.journal.prune(clock.time() - 30 * 86400, batch=1) == 2
    with agent.journal.lock:
        kept = [r[0] for r in agent.journal.conn.execute("SELECT state FROM sales ORDER BY seq")]
    assert kept == ["posted", "conflict", "queued"]
    assert all(what != "old" for _, what in agent.journal.recent_log(100))
