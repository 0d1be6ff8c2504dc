"""Only HQ's own answers say something about HQ. A 401 or 403 from a proxy or captive portal is
not HQ refusing the agent's token: HQ is out of reach, the agent queues and tries again. A
redirect or a portal's 200 page is no evidence that HQ answers: it must not get a sale blamed
and quarantined for HQ's server errors, nor postpone a quarantined sale's next try."""

from __future__ import annotations

import json
import time

import pytest

from tideover.agent.hq import HQUnavailable
from tideover.agent.tests.conftest import sale

BATCH, HEARTBEAT = "/api/v1/sales:batch", "/api/v1/storelink/heartbeats"
PORTAL = (200, "text/html", "<html>Welcome to the mall's Wi-Fi: accept the terms</html>")
REDIRECT = (302, "text/html", "", {"Location": "http://portal.example/login"})
NOT_HQ = {
    "proxy's 401 login": (401, "text/html", "<html>Log in</html>", {"WWW-Authenticate": "Basic"}),
    "portal's 403 page": (403, "text/html", "<html>Forbidden: accept the terms first</html>"),
    "proxy's 403 JSON": (403, "application/json", json.dumps({"error": "blocked"})),
}


@pytest.mark.parametrize("answer", NOT_HQ.values(), ids=NOT_HQ.keys())
def test_a_401_or_403_that_is_not_hqs_is_hq_out_of_reach_not_a_refused_token(between, answer):
    agent = between({"*": answer})
    agent.link_ok()
    assert not agent.heartbeat()
    status = agent.status()
    assert status["online"] is False and status["mode"] == "offline"
    assert "HQ not reached" in status["link_error"] and str(answer[0]) in status["link_error"]
    assert "token" not in status["link_error"] and "<html>" not in status["link_error"]
    [accepted] = agent.accept([sale()])
    assert accepted.result == "accepted"
    with pytest.raises(HQUnavailable, match="HQ not reached"):
        agent.forwarder.forward_once()
    assert agent.journal.sale_state(accepted.sale_id)["state"] == "queued"  # goes again later
    assert agent.hq.ok_at == float("-inf")


def test_hqs_own_401_is_still_a_refused_token(between):
    agent = between({"*": (401, "application/json", json.dumps({"detail": "Invalid token"}))})
    assert not agent.heartbeat()
    assert "HQ refused the agent's token (401): Invalid token" in agent.status()["link_error"]


@pytest.mark.parametrize("answer", [REDIRECT, PORTAL], ids=["redirect", "portal's 200 page"])
def test_a_redirect_or_portal_page_is_no_evidence_that_hq_answers(between, answer):
    """HQ fails every batch (a proxy's 502), heartbeats meet the portal: the sale is not to
    blame, since HQ never answered anything; it stays queued."""
    agent = between(
        {BATCH: (502, "text/html", "<html>Bad gateway</html>"), "*": answer}, quarantine_after=2
    )
    [accepted] = agent.accept([sale()])
    for _ in range(6):
        with pytest.raises(HQUnavailable):
            agent.forwarder.forward_once()
        assert not agent.heartbeat()
        time.sleep(0.002)  # monotonic clocks may not move between two calls
    state = agent.journal.sale_state(accepted.sale_id)
    assert state["state"] == "queued" and state["reason"] is None
    assert agent.hq.ok_at == float("-inf")


@pytest.mark.parametrize("answer", [REDIRECT, PORTAL], ids=["redirect", "portal's 200 page"])
def test_batches_answered_by_something_else_are_neither_settled_nor_postponed(between, answer):
    agent = between({"*": answer})
    waiting, [held] = agent.accept([sale()]), agent.accept([sale()])
    seq = agent.journal.conn.execute(
        "SELECT seq FROM sales WHERE sale_id = ?", (held.sale_id,)
    ).fetchone()[0]
    assert agent.journal.quarantine(seq, "HQ answered 500 each of the 3 times", time.time() - 1)
    for _ in range(2):
        with pytest.raises(HQUnavailable):
            agent.forwarder.forward_once()
    assert agent.journal.sale_state(waiting[0].sale_id)["state"] == "queued"
    held_state = agent.journal.sale_state(held.sale_id)
    assert held_state["state"] == "quarantined" and held_state["retry_at"] is not None
    assert held_state["reason"] == "HQ answered 500 each of the 3 times"  # still due, as it was
    assert agent.journal.due_quarantined(time.time())
