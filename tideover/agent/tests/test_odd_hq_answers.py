"""Answers that are not quite HQ's: a captive portal's 200 page marks the link failed (the
agent does not show "online"), and a batch answer missing a sale's result leaves that sale
queued without the forwarder sending it again and again."""

from __future__ import annotations

import json

import pytest

from tideover.agent.tests.conftest import sale


def test_a_captive_portals_200_page_marks_the_link_failed(between):
    agent = between({"*": (200, "text/html", "<html>Sign in to Store WiFi</html>")})
    agent.link_ok()
    assert not agent.heartbeat()
    assert agent.mode == "offline" and "captive portal" in agent.link_error
    agent.accept([sale()])
    with pytest.raises(Exception, match="captive portal"):
        agent.forwarder.forward_once()
    assert agent.journal.queued == 1


def test_a_sale_missing_from_hqs_answer_stays_queued_and_the_drain_ends(between):
    agent = between({"*": (200, "application/json", json.dumps({"results": []}))})
    agent.accept([sale(), sale()])
    assert agent.forwarder.drain() == {"sent": 0}
    assert agent.journal.queued == 2
    counts = agent.forwarder.forward_once()
    assert counts["unanswered"] == 2 and counts["sent"] == 0
