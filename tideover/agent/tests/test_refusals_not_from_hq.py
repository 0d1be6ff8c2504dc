"""A 4xx is HQ refusing the agent's request (HQ reachable: stay online) only when it is HQ's
own answer, JSON with a ``detail``. A proxy asking for credentials (407), a captive portal or
a rate limiter between the store and HQ (429, a 404 page) means HQ was not reached: the agent
goes offline, as it does when nothing answers."""

from __future__ import annotations

import json

import pytest

from tideover.agent.hq import HQUnavailable

HQS_422 = (422, "application/json; charset=utf-8", json.dumps({"detail": "card_count: too low"}))
NOT_HQ = {
    "proxy wants credentials": (407, "text/html", "<html>Proxy Authentication Required</html>"),
    "rate limiter, plain text": (429, "text/plain", "Too Many Requests"),
    "rate limiter, its own JSON": (429, "application/json", json.dumps({"error": "slow down"})),
    "portal's 404 page": (404, "text/html", "<html>Not found</html>"),
    "HQ's shape as text/html": (422, "text/html", HQS_422[2]),
}


@pytest.mark.parametrize("answer", NOT_HQ.values(), ids=NOT_HQ.keys())
def test_a_4xx_that_is_not_hqs_answer_is_hq_unreachable(between, answer):
    agent = between({"*": answer})
    agent.link_ok()  # it was online
    ok_at = agent.hq.ok_at
    assert not agent.heartbeat()
    status = agent.status()
    assert status["online"] is False and status["mode"] == "offline"
    assert "HQ not reached" in status["link_error"] and str(answer[0]) in status["link_error"]
    assert status["hq_refusal"] == ""
    assert not agent.register() and agent.hq_refusal == ""
    assert agent.hq.ok_at == ok_at  # no evidence that HQ answers (quarantine's blame)


def test_hqs_own_4xx_is_still_a_refusal_with_the_link_up(between):
    agent = between({"*": HQS_422})
    agent.link_failed("HQ unreachable: ConnectError")
    assert not agent.heartbeat()
    status = agent.status()
    assert status["online"] is True and status["link_error"] == ""
    assert "422" in status["hq_refusal"] and "card_count" in status["hq_refusal"]


def test_a_proxys_404_is_not_hq_saying_it_does_not_know_the_member(between):
    agent = between({"*": (404, "text/html", "<html>Not found</html>")})
    with pytest.raises(HQUnavailable, match="HQ not reached"):
        agent.hq.balance("M1")
    hqs = between({"*": (404, "application/json", json.dumps({"detail": "No member M1"}))})
    assert hqs.hq.balance("M1") is None
