"""A poison sale (HQ answers 500 every time it is in a batch) is found by bisection, quarantined
after a few failures while HQ answers everything else, shown to staff, tried again less often,
and never holds the sales behind it; an HQ that fails on everything blames no sale."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tideover.agent import cli
from tideover.agent.hq import HQUnavailable
from tideover.agent.journal import Journal
from tideover.agent.tests.conftest import sale
from tideover.sales import hooks
from tideover.sales.models import Sale
from tideover.storelink.models import StoreAgent

POISON = "S001-R1-POISON"


def _fail_on_poison(posted):
    """A bug at HQ that only this sale triggers: the whole batch's request ends in a 500."""
    if any(p.sale.sale_id == POISON for p in posted):
        raise RuntimeError("HQ cannot digest this sale")
    return {}


@pytest.fixture
def poison_at_hq():
    hooks.register_listener("test-poison", _fail_on_poison)
    yield
    hooks._listeners.pop("test-poison", None)


def _forward_until(agent, tries: int = 60, *, left: int = 0, drain: bool = False) -> None:
    """The forwarder's loop without its waits, until at most ``left`` sales are queued: after
    each failure HQ hears a heartbeat (as it would every few seconds), which proves HQ answers
    other requests. ``drain``: each round is a whole drain rather than one batch."""
    step = agent.forwarder.drain if drain else agent.forwarder.forward_once
    for _ in range(tries):
        try:
            step()
        except HQUnavailable:
            assert agent.heartbeat(), agent.link_error
            continue
        if agent.journal.queued <= left:
            return
    raise AssertionError(f"{agent.journal.queued} sales still queued after {tries} tries")


def test_a_poison_sale_is_bisected_out_quarantined_and_the_rest_drain(make_agent, poison_at_hq):
    agent = make_agent(batch_size=8, quarantine_after=3, quarantine_retry_seconds=3600)
    before = [sale() for _ in range(5)]
    after = [sale() for _ in range(9)]
    agent.accept([*before, sale(sale_id=POISON), *after])
    _forward_until(agent)
    state = agent.journal.sale_state(POISON)
    assert state["state"] == "quarantined"
    posted = set(Sale.objects.values_list("sale_id", flat=True))
    assert posted == {s["sale_id"] for s in before + after}
    problem = agent.journal.problems()["sales"][0]
    assert problem["sale_id"] == POISON and problem["failures"] == 3
    assert "HQ answered 500 each of the 3 times" in problem["reason"]
    assert agent.forwarder.batch_size == 8  # back to full batches for the rest


def test_with_two_batches_in_flight_a_poison_sale_is_still_found_and_hq_sees_it_set_aside(
    make_agent, poison_at_hq
):
    agent = make_agent(batch_size=8, in_flight=2, quarantine_after=3, quarantine_retry_seconds=60)
    before = [sale() for _ in range(11)]
    after = [sale() for _ in range(20)]
    agent.accept([*before, sale(sale_id=POISON), *after])
    _forward_until(agent, drain=True)
    assert agent.journal.queued == 0
    assert agent.journal.sale_state(POISON)["state"] == "quarantined"
    posted = set(Sale.objects.values_list("sale_id", flat=True))
    assert posted == {s["sale_id"] for s in before + after}
    assert agent.heartbeat(), agent.link_error
    at_hq = StoreAgent.objects.get(store__code="S001")
    assert (at_hq.quarantined, at_hq.rejected, at_hq.needs_attention) == (1, 0, 1)


def test_a_quarantined_sale_is_retried_later_and_posts_once_hq_is_fixed(make_agent, poison_at_hq):
    agent = make_agent(batch_size=4, quarantine_after=2, quarantine_retry_seconds=3600)
    agent.accept([sale(sale_id=POISON, member="M0000042", tender="card_offline")])
    _forward_until(agent)
    # Still unsent: it counts for the card limits and the member's provisional points.
    assert agent.status()["card_count"] == 1
    assert agent.balance("M0000042", ask_hq=False)["queued_points"] == 25
    agent.accept([sale()])
    assert agent.forwarder.forward_once()["sent"] == 1  # not due: only the new sale is sent
    assert agent.journal.sale_state(POISON)["state"] == "quarantined"

    agent.journal.retry_quarantined_now()  # due again, HQ still broken: postponed, counted
    assert agent.forwarder.forward_once() == {"sent": 0}
    assert agent.journal.problems()["sales"][0]["failures"] == 3
    assert "again; next try" in agent.journal.problems()["sales"][0]["reason"]

    hooks._listeners.pop("test-poison")  # HQ's bug fixed
    agent.journal.retry_quarantined_now()  # what "send now" does
    assert agent.forwarder.drain()["sent"] == 1
    assert agent.journal.sale_state(POISON)["state"] == "posted"
    assert Sale.objects.filter(sale_id=POISON).count() == 1
    assert agent.status()["card_count"] == 0 and agent.status()["quarantined"] == 0


class _BrokenHQ(BaseHTTPRequestHandler):
    """HQ whose every answer is a 500 (its database is gone): nothing is the sales' fault."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        return


def test_when_hq_fails_on_everything_no_sale_is_quarantined(make_agent):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenHQ)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    try:
        agent = make_agent(
            hq=f"http://127.0.0.1:{server.server_address[1]}", token="x", quarantine_after=2
        )
        agent.accept([sale(), sale()])
        for _ in range(30):
            with pytest.raises(HQUnavailable):
                agent.forwarder.forward_once()
            assert not agent.heartbeat()
        assert agent.journal.queued == 2
        assert agent.journal.problems()["counts"] == {}
    finally:
        server.shutdown()
        server.server_close()


def test_staff_see_quarantined_sales_on_the_page_and_in_agent_status(
    http_agent,  # noqa: F811
    poison_at_hq,
    capsys,
):
    agent, client = http_agent(quarantine_after=1)
    agent.accept([sale(sale_id=POISON)])
    _forward_until(agent)
    page = client.get("/").text
    assert 'id="quarantined">1 quarantined' in page and POISON in page
    assert cli.main(["status", "--agent", str(client.base_url)]) == 0
    out = capsys.readouterr().out
    assert "quarantined (HQ fails on them, tried again now and then): 1" in out
    assert f"{POISON}  quarantined: HQ answered 500" in out


def test_send_now_tries_quarantined_sales_at_once(http_agent, poison_at_hq):  # noqa: F811
    agent, client = http_agent(quarantine_after=1, quarantine_retry_seconds=3600)
    agent.accept([sale(sale_id=POISON)])
    _forward_until(agent)
    hooks._listeners.pop("test-poison")
    assert client.post("/api/v1/agent/sync").json()["sent"] == 1
    assert agent.journal.sale_state(POISON)["state"] == "posted"


def test_an_agent_file_from_before_quarantine_is_upgraded_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "agent.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE sales (seq INTEGER PRIMARY KEY AUTOINCREMENT, sale_id TEXT NOT NULL UNIQUE,"
        " hash TEXT NOT NULL, payload TEXT NOT NULL, occurred_at TEXT NOT NULL,"
        " accepted_at REAL NOT NULL, member_id TEXT, points INTEGER NOT NULL DEFAULT 0,"
        " card_offline_cents INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'queued',"
        " attempts INTEGER NOT NULL DEFAULT 0, reason TEXT, hq_points INTEGER, settled_at REAL);"
        "INSERT INTO sales (sale_id, hash, payload, occurred_at, accepted_at)"
        " VALUES ('S001-OLD', 'h', '{}', '2026-11-30T00:00:00+00:00', 1);"
    )
    old.commit()
    old.close()
    journal = Journal(path)
    try:
        assert journal.queued == 1
        ((seq, sale_id, _),) = journal.oldest_queued(10)
        assert journal.count_failure(seq) == 1
        assert journal.quarantine(seq, "test", 0) and journal.queued == 0
        assert journal.due_quarantined(1.0)[0][1] == "S001-OLD"
    finally:
        journal.close()


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_return_of_a_quarantined_sale_waits_for_it_instead_of_being_rejected_by_hq(
    make_agent, poison_at_hq, in_flight
):
    agent = make_agent(
        batch_size=4, in_flight=in_flight, quarantine_after=2, quarantine_retry_seconds=3600
    )
    returned = sale(kind="return", original_sale_id=POISON)
    behind = [sale() for _ in range(9)]
    agent.accept([sale(sale_id=POISON), returned, *behind])
    _forward_until(agent, left=1, drain=True)  # the return stays
    # The sales behind went on; the return waits for its original (HQ would refuse it).
    assert agent.journal.sale_state(POISON)["state"] == "quarantined"
    assert agent.journal.sale_state(returned["sale_id"])["state"] == "queued"
    posted = set(Sale.objects.values_list("sale_id", flat=True))
    assert posted == {s["sale_id"] for s in behind}

    hooks._listeners.pop("test-poison")  # HQ's bug fixed
    agent.journal.retry_quarantined_now()
    agent.forwarder.drain()
    assert agent.journal.queued == 0 and agent.journal.problems()["counts"] == {}
    assert Sale.objects.get(sale_id=returned["sale_id"]).original.sale_id == POISON
