"""Sales an agent queued before loyalty ids were upper-cased keep the id as typed (abc123) in
the journal, and so do the balances it kept. After the upgrade they still count for the member
whichever case the register asks in (queued points, HQ's last balance, tier), and they post to
the member at HQ once: the stored JSON and its hash, the exactly-once record, are not touched."""

from __future__ import annotations

import sqlite3

from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale


def _as_an_agent_before_the_upgrade_wrote_it(agent: Agent, typed: str) -> dict:
    """Stop the agent and put its file back as an older agent left it; the stored rows."""
    agent.stop()
    conn = sqlite3.connect(agent.config.database, isolation_level=None)
    conn.execute(
        "UPDATE sales SET member_id = ?, payload = replace(payload, ?, ?)",
        (typed, f'"{typed.upper()}"', f'"{typed}"'),
    )
    conn.execute("DELETE FROM members")
    conn.execute("INSERT INTO members VALUES (?, 120, 1.0, 'gold')", (typed,))
    conn.execute("DELETE FROM kv WHERE key = 'member_ids_upper_cased'")
    rows = dict(conn.execute("SELECT sale_id, payload || hash FROM sales").fetchall())
    conn.close()
    return rows


def test_sales_queued_under_a_lower_case_member_id_count_for_the_member(make_agent, tmp_path):
    data = str(tmp_path / "store")
    first = make_agent(hq="http://127.0.0.1:9", data=data)
    accepted = first.accept([sale(member="abc123", cents=1000), sale(member="ABC123")])
    assert all(a.result == "accepted" for a in accepted)
    points = sum(a.points for a in accepted)
    stored = _as_an_agent_before_the_upgrade_wrote_it(first, "abc123")

    agent = make_agent(hq="http://127.0.0.1:9", data=data)
    for asked in ("ABC123", "abc123", " Abc123"):
        view = agent.balance(asked, ask_hq=False)
        assert view["loyalty_id"] == "ABC123"
        assert (view["queued_points"], view["hq_balance"]) == (points, 120)
        assert view["balance"] == 120 + points
    assert agent.journal.tier("ABC123") == "gold"
    rows = dict(agent.journal.conn.execute("SELECT sale_id, payload || hash FROM sales"))
    assert rows == stored  # what goes to HQ, and its fingerprint, as the older agent stored it


def test_they_post_once_to_the_member_at_hq(make_agent, tmp_path, live_server):
    from tideover.loyalty.models import Member
    from tideover.sales.models import Sale

    data = str(tmp_path / "store")
    first = make_agent(hq="http://127.0.0.1:9", data=data)
    [accepted] = first.accept([sale(member="abc123")])
    member = Member.objects.create(loyalty_id="ABC123", name="A member")
    _as_an_agent_before_the_upgrade_wrote_it(first, "abc123")
    agent = make_agent(data=data)
    agent.forwarder.drain()
    assert agent.journal.sale_state(accepted.sale_id)["state"] == "posted"
    assert Sale.objects.get(sale_id=accepted.sale_id).member_id == "ABC123"
    member.refresh_from_db()
    balance = member.balance
    assert balance > 0
    agent.journal.conn.execute(
        "UPDATE sales SET state = 'queued' WHERE sale_id = ?", (accepted.sale_id,)
    )  # a lost answer: sent again
    agent.journal._queued = 1
    agent.forwarder.drain()
    assert Sale.objects.filter(sale_id=accepted.sale_id).count() == 1
    assert agent.journal.sale_state(accepted.sale_id)["state"] == "posted"
    member.refresh_from_db()
    assert member.balance == balance  # HQ took the resend as the same sale: points once
