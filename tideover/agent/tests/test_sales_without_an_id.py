"""A sale sent without a sale_id gets an id made from the sale itself, so a register that
resends it after a lost answer hears "duplicate" and HQ gets it once."""

from __future__ import annotations

import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale


@pytest.fixture
def agent(tmp_path, down_url):
    agent = Agent(AgentConfig(store="S001", hq=down_url, token="t", data=str(tmp_path)).check())
    yield agent
    agent.stop()


def _without_id(**extra) -> dict:
    bare = {**sale(**extra)}
    del bare["sale_id"]
    return bare


def test_a_resend_of_a_sale_without_an_id_is_a_duplicate_not_a_second_sale(agent):
    bare = _without_id()
    first = agent.accept([dict(bare)])[0]  # the answer is lost on its way to the register
    again = agent.accept([dict(bare)])[0]  # the register sends the very same sale again
    assert (first.result, again.result) == ("accepted", "duplicate")
    assert first.sale_id == again.sale_id and first.sale_id.startswith("S001-A")
    assert agent.journal.queued == 1


def test_two_sales_without_an_id_that_differ_are_two_sales(agent):
    one = _without_id()
    other = {**one, "occurred_at": _without_id()["occurred_at"]}
    answers = agent.accept([one, other])
    assert [a.result for a in answers] == ["accepted", "accepted"]
    assert answers[0].sale_id != answers[1].sale_id


def test_a_sale_without_an_id_or_a_register_is_refused_with_what_to_send(agent):
    bare = _without_id()
    del bare["register"]
    [answer] = agent.accept([bare])
    assert answer.result == "refused" and "Send a sale_id" in answer.reason
    assert agent.journal.queued == 0
