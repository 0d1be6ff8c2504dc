"""Sales an agent accepted before loyalty ids were upper-cased were fingerprinted (and, sent
without an id, named) with the member id as typed. A register resending one after the upgrade
must hear "duplicate", as HQ answers (``hash_as_sent``), not "give this sale a new id" (staff
would ring it up again and HQ would post it twice) nor be queued a second time."""

from __future__ import annotations

import hashlib

import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale
from tideover.sales.schemas import SaleIn, content_hash


@pytest.fixture
def agent(tmp_path, down_url):
    agent = Agent(AgentConfig(store="S001", hq=down_url, token="t", data=str(tmp_path)).check())
    yield agent
    agent.stop()


def _stored_as_before_the_upgrade(agent: Agent, sale_id: str, item: dict) -> str:
    """Rewrite the stored row as an agent before the upgrade wrote it; returns its id."""
    typed = SaleIn.model_validate({**item, "sale_id": item.get("sale_id") or "0-pending"})
    typed = typed.model_copy(update={"member_id": item["member_id"].strip()})
    old_id = item.get("sale_id")
    if not old_id:
        made = hashlib.sha256(typed.model_dump_json(exclude={"sale_id"}).encode()).hexdigest()
        old_id = f"S001-A{made[:32]}"
    old_hash = content_hash(typed.model_copy(update={"sale_id": old_id}))
    with agent.journal.lock:
        agent.journal.conn.execute(
            "UPDATE sales SET sale_id = ?, hash = ? WHERE sale_id = ?", (old_id, old_hash, sale_id)
        )
        agent.journal.conn.commit()
    return old_id


def test_a_resend_of_a_sale_accepted_before_the_upgrade_is_a_duplicate(agent):
    item = sale(member="abc123")
    [first] = agent.accept([dict(item)])
    _stored_as_before_the_upgrade(agent, first.sale_id, item)
    [again] = agent.accept([dict(item)])
    assert (again.result, again.reason) == ("duplicate", None)
    assert agent.journal.queued == 1


def test_a_different_sale_under_that_id_is_still_refused(agent):
    item = sale(member="abc123")
    [first] = agent.accept([dict(item)])
    _stored_as_before_the_upgrade(agent, first.sale_id, item)
    [other] = agent.accept([{**item, "member_id": "xyz789"}])
    assert other.result == "refused" and "new id" in other.reason


def test_a_resend_without_an_id_accepted_before_the_upgrade_is_a_duplicate(agent):
    item = sale(member=" abc123")
    del item["sale_id"]
    [first] = agent.accept([dict(item)])
    old_id = _stored_as_before_the_upgrade(agent, first.sale_id, item)
    assert old_id != first.sale_id  # the old agent named it from the member as typed
    [again] = agent.accept([dict(item)])
    assert (again.result, again.sale_id) == ("duplicate", old_id)
    assert agent.journal.queued == 1
