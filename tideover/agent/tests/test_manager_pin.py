"""The manager's switches (forced offline, marking a sale dealt with) cannot be reached or
locked from just anywhere on the store's network: the API takes the register key, the page's
forms refuse another site's page, and wrong PINs lock out the device they came from, longer
each time, not the manager."""

from __future__ import annotations

import threading

import httpx
import pytest

import tideover.agent.manager as manager
from tideover.agent.config import AgentConfig
from tideover.agent.server import serve
from tideover.agent.service import Agent

GUESSER, MANAGER = "10.0.0.66", "10.0.0.7"


@pytest.fixture
def make(tmp_path, down_url):
    made = []

    def make_agent() -> Agent:
        config = AgentConfig(
            store="S001",
            hq=down_url,
            token="t",
            data=str(tmp_path),
            manager_pin="4321",
            register_key="reg-secret",
        ).check()
        made.append(Agent(config))
        return made[-1]

    yield make_agent
    for agent in made:
        agent.stop()


@pytest.fixture
def served(make):
    agent = make()
    server = serve(agent, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:
        yield agent, client
    server.shutdown()
    server.server_close()


def test_the_manager_api_needs_the_register_key(served):
    agent, client = served
    off = client.post("/api/v1/agent/offline", json={"on": True, "pin": "4321"})
    dealt = client.post("/api/v1/agent/sales/S001-X/dealt-with", json={"pin": "4321"})
    assert (off.status_code, dealt.status_code) == (401, 401)
    assert agent.forced_offline is False
    keyed = client.post(
        "/api/v1/agent/offline",
        json={"on": True, "pin": "4321"},
        headers={"Authorization": "Bearer reg-secret"},
    )
    assert keyed.status_code == 200 and agent.forced_offline is True


def test_another_sites_page_cannot_post_the_manager_forms_nor_lock_the_manager_out(served):
    agent, client = served
    foreign = {"Origin": "http://evil.example"}
    for _ in range(6):
        off = client.post("/offline", data={"on": "true", "pin": "0000"}, headers=foreign)
        dealt = client.post("/dealt-with", data={"sale_id": "S001-X", "pin": "0"}, headers=foreign)
        assert (off.status_code, dealt.status_code) == (403, 403)
    own = {"Origin": client.base_url.netloc.decode()}
    page = client.post("/offline", data={"on": "true", "pin": "4321"}, headers=own)
    assert page.status_code == 303 and agent.forced_offline is True


def test_five_wrong_pins_lock_out_that_device_not_the_manager(make):
    agent = make()
    for _ in range(5):
        assert agent.force_offline(True, "0000", client=GUESSER) == "Wrong PIN"
    assert "Too many wrong PINs" in agent.force_offline(True, "4321", client=GUESSER)
    assert agent.force_offline(True, "4321", client=MANAGER) == ""
    assert agent.deal_with("S001-X", "4321", client=MANAGER) == "This agent has no sale S001-X"


def test_each_further_lockout_of_a_device_is_longer_and_survives_a_restart(make, monkeypatch):
    agent = make()
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(manager.time, "time", lambda: clock["now"])
    for _ in range(5):
        agent.force_offline(True, "0000", client=GUESSER)
    clock["now"] += 301  # the first lockout (5 minutes) is over
    for _ in range(5):
        assert agent.force_offline(True, "0000", client=GUESSER) == "Wrong PIN"
    clock["now"] += 301  # the second is ten minutes
    assert "try again in 5 minutes" in agent.force_offline(True, "4321", client=GUESSER)
    agent.stop()
    again = make()  # a restart keeps the lockout
    assert "Too many wrong PINs" in again.force_offline(True, "4321", client=GUESSER)
    clock["now"] += 300
    assert again.force_offline(True, "4321", client=GUESSER) == ""


def _clock(monkeypatch) -> dict:
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(manager.time, "time", lambda: clock["now"])
    return clock


def test_many_addresses_guessing_together_get_at_most_50_tries_an_hour(make, monkeypatch):
    """One device can take a new IPv6 privacy address for each guess: counted per address
    only, it would guess the 4-digit PIN in hours."""
    agent = make()
    clock = _clock(monkeypatch)
    for n in range(manager.PIN_WRONG_PER_HOUR):
        assert agent.force_offline(True, "0000", client=f"2001:db8::{n:x}") == "Wrong PIN"
        clock["now"] += 10
    fresh = "2001:db8::ffff"
    refused = agent.force_offline(True, "4321", client=fresh)
    assert "refused from every device" in refused and agent.forced_offline is False
    assert "refused from every device" in agent.deal_with("S001-X", "4321", client=MANAGER)
    agent.stop()
    again = make()  # a restart does not lift it
    assert "refused from every device" in again.force_offline(True, "4321", client=fresh)
    clock["now"] += 3600 - 10 * manager.PIN_WRONG_PER_HOUR  # an hour after the first of them
    assert again.force_offline(True, "4321", client=MANAGER) == ""


def test_one_device_guessing_for_hours_never_locks_the_manager_out(make, monkeypatch):
    agent = make()
    clock = _clock(monkeypatch)
    tries = []
    for _ in range(6 * 360):  # six hours, a try every 10 s
        if agent.force_offline(True, "0000", client=GUESSER) == "Wrong PIN":
            tries.append(clock["now"])
        clock["now"] += 10
    # 5, 5 after 5 minutes, 5 after 10 more, 5 after 20 more, ...: at most 20 in any hour
    assert max(sum(1 for t in tries if s <= t < s + 3600) for s in tries) == 20
    assert agent.force_offline(True, "4321", client=MANAGER) == ""


def test_wrong_pins_from_addresses_that_come_and_go_are_not_kept_for_ever(make, monkeypatch):
    agent = make()
    clock = _clock(monkeypatch)
    for n in range(3000):  # slowly enough to stay under the hourly ceiling
        assert agent.force_offline(True, "0000", client=f"2001:db8::{n:x}") == "Wrong PIN"
        clock["now"] += 75
    assert len(agent._pin_failures) <= manager.PIN_LOCK_SECONDS // 75 + 1
    assert len(agent._pin_wrong) < manager.PIN_WRONG_PER_HOUR
