"""A copy of a sale whose group commit is still running (a register's resend on another
connection, or the same sale twice in one batch) hears "duplicate" only once that commit is
durable; if the commit fails it hears "send again", like the first request."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from tideover.agent.config import AgentConfig
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale


@pytest.fixture
def agent(tmp_path, down_url):
    agent = Agent(AgentConfig(store="S001", hq=down_url, token="t", data=str(tmp_path)).check())
    yield agent
    agent.stop()


def _slow_write(agent, *, fail: bool):
    """Make the next group commit block until released, then fail or store."""
    entered, release = threading.Event(), threading.Event()
    real = agent.journal._write

    def write(sales, now):
        entered.set()
        release.wait(10)
        if fail:
            raise sqlite3.OperationalError("disk I/O error")
        return real(sales, now)

    agent.journal._write = write
    return entered, release


def _resend_during_commit(agent, first_sale, *, fail: bool):
    entered, release = _slow_write(agent, fail=fail)
    first = {}
    thread = threading.Thread(target=lambda: first.update(a=agent.accept([dict(first_sale)])[0]))
    thread.start()
    assert entered.wait(5)
    threading.Timer(0.3, release.set).start()  # the commit ends while the resend waits
    second = agent.accept([dict(first_sale)])[0]
    thread.join(10)
    return first["a"], second


def test_a_resend_during_a_failing_commit_hears_send_again_not_duplicate(agent):
    one = sale()
    first, second = _resend_during_commit(agent, one, fail=True)
    assert first.result == "refused" and "send it again" in first.reason
    assert second.result == "refused" and "send it again" in second.reason
    assert agent.sale_state(one["sale_id"]) is None
    agent.journal._write = type(agent.journal)._write.__get__(agent.journal)
    assert agent.accept([one])[0].result == "accepted"  # the next resend is stored


def test_a_resend_during_a_commit_that_succeeds_hears_duplicate(agent):
    one = sale()
    first, second = _resend_during_commit(agent, one, fail=False)
    assert (first.result, second.result) == ("accepted", "duplicate")
    assert agent.journal.queued == 1


def test_two_copies_in_one_batch_both_hear_send_again_when_the_commit_fails(agent):
    one = sale()
    entered, release = _slow_write(agent, fail=True)
    release.set()
    answers = agent.accept([dict(one), dict(one)])
    assert [a.result for a in answers] == ["refused", "refused"]
    assert all("send it again" in a.reason for a in answers)
    assert agent.sale_state(one["sale_id"]) is None
