"""A heartbeat HQ refuses (a 4xx: HQ is reachable, the request is wrong) is told apart from HQ
being unreachable, and the agent never sends a time HQ must refuse (a box that booted with a
1970 clock while HQ was out of reach saved such an offline_since, and then stayed offline for
good once the clock was right)."""

from __future__ import annotations

import logging

import tideover.agent.service as service
from tideover.agent.page import render_status


def test_an_offline_since_saved_under_a_1970_clock_does_not_keep_the_agent_offline(
    make_agent, monkeypatch
):
    agent = make_agent()
    with monkeypatch.context() as m:
        m.setattr(service.time, "time", lambda: 60.0)  # booted without a clock, HQ unreachable
        agent.link_failed("HQ unreachable: ConnectError")
    assert agent.offline_since == 60.0
    # NTP set the clock; HQ answers
    assert agent.heartbeat()
    assert agent.mode == "online" and agent.link_error == ""
    assert agent.offline_since is None


def test_a_wrong_offline_since_is_reset_at_start_and_never_sent(make_agent, tmp_path):
    data = str(tmp_path / "kept")
    agent = make_agent(data=data)
    agent.journal.put("offline_since", 60.0)
    agent.stop()
    again = make_agent(data=data)
    assert again.offline_since > service.PLAUSIBLE_FROM  # still offline, since now
    again.offline_since = 60.0  # even if one slipped through, HQ never gets it
    assert again.heartbeat_body()["offline_since"] is None


def test_a_heartbeat_hq_refuses_is_shown_as_a_refusal_not_as_hq_down(
    make_agent, monkeypatch, caplog
):
    agent = make_agent()
    agent.link_failed("HQ unreachable: ConnectError")
    body = agent.heartbeat_body
    monkeypatch.setattr(agent, "heartbeat_body", lambda: {**body(), "card_count": -12345})
    with caplog.at_level(logging.ERROR, logger="tideover.agent"):
        assert not agent.heartbeat()
    status = agent.status()
    assert status["online"] and status["mode"] == "online" and status["link_error"] == ""
    assert "422" in status["hq_refusal"] and "card_count" in status["hq_refusal"]
    assert "-12345" not in status["hq_refusal"] and "-12345" not in caplog.text
    assert "422" in caplog.text
    assert 'id="hq-refusal"' in render_status(status)


def test_hq_unreachable_is_still_offline(make_agent, down_url):
    agent = make_agent(hq=down_url)
    assert not agent.heartbeat()
    status = agent.status()
    assert status["mode"] == "offline" and "unreachable" in status["link_error"]
    assert status["hq_refusal"] == ""
