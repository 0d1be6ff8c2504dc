"""The offline card policy's age limit holds when the box's clock steps backwards: ages within
a run are measured with the monotonic clock, and the highest wall clock seen is kept, so a
step back never makes an unsent card sale look younger than it is."""

from __future__ import annotations

import time

import pytest

from tideover.agent import journal as journal_module
from tideover.agent.config import AgentConfig
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale

POLICY = {
    "per_sale_limit_cents": 20_000,
    "total_limit_cents": 500_000,
    "max_count": 100,
    "max_age_minutes": 60,
}


class Clocks:
    """The wall clock and the monotonic clock, set by the test."""

    def __init__(self):
        self.wall, self.mono = time.time(), 1000.0

    def __getattr__(self, name):
        return getattr(time, name)

    def time(self):
        return self.wall

    def monotonic(self):
        return self.mono


@pytest.fixture
def clocks(monkeypatch):
    clocks = Clocks()
    monkeypatch.setattr(journal_module, "time", clocks)
    return clocks


@pytest.fixture
def new_agent(tmp_path, down_url):
    made = []

    def make_agent() -> Agent:
        config = AgentConfig(store="S001", hq=down_url, token="t", data=str(tmp_path)).check()
        made.append(Agent(config))
        made[-1].journal.put("card_policy", POLICY)
        return made[-1]

    yield make_agent
    for agent in made:
        agent.stop()


def _card():
    return sale(cents=1_000, tender="card_offline")


def test_a_clock_step_back_does_not_let_the_card_age_limit_pass(new_agent, clocks):
    agent = new_agent()
    assert agent.accept([_card()])[0].result == "accepted"
    clocks.mono += 3 * 3600  # three hours pass offline, then NTP steps the clock back 2.5 h
    clocks.wall += 3 * 3600 - 2.5 * 3600
    answer = agent.accept([_card()])[0]
    assert answer.result == "refused" and "older than 60 minutes" in answer.reason


def test_after_a_restart_the_highest_clock_seen_still_counts(new_agent, clocks):
    agent = new_agent()
    start = clocks.wall
    assert agent.accept([_card()])[0].result == "accepted"
    clocks.wall = start + 3 * 3600
    agent.journal.now()  # the agent's heartbeat loop reads the clock every few seconds
    agent.stop()
    clocks.wall = start + 0.5 * 3600  # stepped back while the agent restarted
    again = new_agent()
    answer = again.accept([_card()])[0]
    assert answer.result == "refused" and "older than 60 minutes" in answer.reason


def test_within_the_age_limit_card_sales_are_still_taken(new_agent, clocks):
    agent = new_agent()
    assert agent.accept([_card()])[0].result == "accepted"
    clocks.mono += 30 * 60
    clocks.wall -= 3600  # a step back alone ages nothing
    assert agent.accept([_card()])[0].result == "accepted"
