"""The agent takes sales like HQ does, keeps them on disk before answering, and forwards them
to HQ oldest first, each settled by HQ's own answer."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from tideover.agent import accepting
from tideover.agent.tests.conftest import sale
from tideover.sales import schemas
from tideover.sales.models import Sale


def test_registers_send_the_same_shape_as_to_hq_one_schema_not_a_copy():
    assert accepting.SaleIn is schemas.SaleIn
    assert accepting.content_hash is schemas.content_hash


def test_the_agent_process_loads_no_django():
    code = (
        "import sys, tideover.agent.cli, tideover.agent.server, tideover.agent.simulate;"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'django'];"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": "/usr/bin"})


def test_an_accepted_sale_reaches_hq_once_with_the_time_it_happened(make_agent):
    agent = make_agent()
    sent = sale(cents=1999)
    [answer] = agent.accept([sent])
    assert answer.result == "accepted"
    assert agent.journal.queued == 1
    assert agent.forwarder.drain()["posted"] == 1
    posted = Sale.objects.get(sale_id=sent["sale_id"])
    assert posted.occurred_at == datetime.fromisoformat(sent["occurred_at"])
    assert posted.total_cents == 1999
    assert agent.journal.sale_state(sent["sale_id"])["state"] == "posted"
    # Sent again (the answer was lost): HQ says duplicate, still posted once.
    agent.journal.conn.execute("UPDATE sales SET state = 'queued'")
    agent.journal._queued = 1
    assert agent.forwarder.drain()["posted"] == 1
    assert Sale.objects.filter(sale_id=sent["sale_id"]).count() == 1


def test_a_sale_without_an_id_gets_one_and_the_store_is_filled_in(make_agent):
    agent = make_agent()
    bare = sale()
    del bare["sale_id"], bare["store"]
    [answer] = agent.accept([bare])
    assert answer.result == "accepted" and answer.sale_id.startswith("S001-A")


def test_the_same_sale_twice_is_a_duplicate_and_a_reused_id_is_refused(make_agent):
    agent = make_agent()
    first = sale()
    assert agent.accept([first])[0].result == "accepted"
    assert agent.accept([first])[0].result == "duplicate"
    clash = {**first, "lines": [{"sku": "OTHER", "quantity": 1, "unit_price_cents": 1}]}
    answer = agent.accept([clash])[0]
    assert answer.result == "refused" and "different sale" in answer.reason
    assert agent.journal.queued == 1


def test_bad_input_is_refused_with_what_to_fix(make_agent):
    agent = make_agent()
    wrong_store = agent.accept([sale(store="S002")])[0]
    assert wrong_store.result == "refused" and "serves store S001" in wrong_store.reason
    no_lines = agent.accept([{**sale(), "lines": []}])[0]
    assert no_lines.result == "refused" and "at least one line" in no_lines.reason
    assert agent.journal.queued == 0


def test_when_hq_is_down_the_agent_keeps_selling_and_drains_when_it_is_back(
    make_agent, down_url, live_server
):
    offline = make_agent(hq=down_url)
    sales = [sale() for _ in range(5)]
    assert offline.heartbeat() is False
    assert {a.result for a in offline.accept(sales)} == {"accepted"}
    assert offline.mode == "offline" and offline.accept([sale()])[0].online is False
    data = offline.config.data
    offline.stop()
    back = make_agent(data=data)  # the same store box, restarted, HQ reachable again
    assert back.journal.queued == 6
    assert back.heartbeat() is True
    assert back.forwarder.drain()["posted"] == 6
    assert Sale.objects.filter(sale_id__in=[s["sale_id"] for s in sales]).count() == 5
    assert back.mode == "online"


def test_hq_hears_which_sales_were_taken_while_it_could_not_be_reached(make_agent, down_url):
    cut_off = make_agent(hq=down_url)
    assert cut_off.heartbeat() is False
    during = [sale(member="M0000001") for _ in range(3)]
    cut_off.accept(during)
    data = cut_off.config.data
    cut_off.stop()
    back = make_agent(data=data)  # restarted with HQ reachable: still offline until it hears HQ
    after_restart = sale()
    back.accept([after_restart])
    assert back.heartbeat() is True
    online = sale()
    back.accept([online])
    forced = sale()
    back.forced_offline = True
    back.accept([forced])
    back.forced_offline = False
    assert back.forwarder.drain()["posted"] == 6
    flags = dict(Sale.objects.values_list("sale_id", "queued_offline"))
    offline_ids = [s["sale_id"] for s in (*during, after_restart, forced)]
    assert flags == {**dict.fromkeys(offline_ids, True), online["sale_id"]: False}


def test_a_journal_from_before_the_offline_mark_is_upgraded(make_agent, tmp_path):
    import sqlite3

    folder = tmp_path / "old-agent"
    folder.mkdir()
    old = sqlite3.connect(folder / "agent.sqlite3")
    old.execute(
        "CREATE TABLE sales (seq INTEGER PRIMARY KEY AUTOINCREMENT, sale_id TEXT NOT NULL UNIQUE,"
        " hash TEXT NOT NULL, payload TEXT NOT NULL, occurred_at TEXT NOT NULL,"
        " accepted_at REAL NOT NULL, member_id TEXT, points INTEGER NOT NULL DEFAULT 0,"
        " card_offline_cents INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'queued',"
        " attempts INTEGER NOT NULL DEFAULT 0, reason TEXT, hq_points INTEGER, settled_at REAL)"
    )
    old.commit()
    old.close()
    agent = make_agent(data=str(folder))
    columns = {row[1] for row in agent.journal.conn.execute("PRAGMA table_info(sales)")}
    assert "accepted_offline" in columns
    agent.accept([sale()])
    assert agent.forwarder.drain()["posted"] == 1
    assert Sale.objects.get().queued_offline is False


def test_a_sale_hq_rejects_is_kept_for_staff_and_does_not_block_the_ones_behind(make_agent):
    agent = make_agent()
    orphan = sale(kind="return", original_sale_id="S001-NEVER-POSTED")
    behind = [sale() for _ in range(3)]
    agent.accept([orphan, *behind])
    counts = agent.forwarder.drain()
    assert counts["rejected"] == 1 and counts["posted"] == 3
    problems = agent.journal.problems()
    assert problems["counts"] == {"rejected": 1}
    assert "has not been posted yet" in problems["sales"][0]["reason"]
    assert agent.journal.queued == 0


def test_oldest_first_in_batches(make_agent):
    # One batch at a time: HQ posts in the queue's order (with two in flight HQ may commit the
    # later batch first; test_pipelined_forwarding.py).
    agent = make_agent(batch_size=4, in_flight=1)
    sales = [sale() for _ in range(10)]
    agent.accept(sales)
    assert [r[1] for r in agent.journal.oldest_queued(4)] == [s["sale_id"] for s in sales[:4]]
    assert agent.forwarder.forward_once()["sent"] == 4
    assert agent.forwarder.drain()["sent"] == 6
    posted = list(Sale.objects.order_by("pk").values_list("sale_id", flat=True))
    assert posted == [s["sale_id"] for s in sales]
