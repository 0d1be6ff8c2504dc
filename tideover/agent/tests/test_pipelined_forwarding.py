"""Two batches in flight: HQ may commit them in either order, so a return or void whose original
sale is in the batch still in flight waits for that batch's answer, and a member with sales in
both has their balance asked for again; everything else goes on."""

from __future__ import annotations

import threading

import httpx
import pytest

from tideover.agent.hq import HQUnavailable
from tideover.agent.tests.conftest import sale
from tideover.loyalty.members import create_member
from tideover.loyalty.models import Member
from tideover.sales import hooks
from tideover.sales.models import Sale


@pytest.fixture
def batches_at_hq():
    """The sale ids of each batch HQ posted, in the order HQ posted them."""
    seen: list[set[str]] = []
    hooks.register_listener("test-batches", lambda posted: seen.append(_ids(posted)) or {})
    yield seen
    hooks._listeners.pop("test-batches", None)


def _ids(posted) -> set[str]:
    return {p.sale.sale_id for p in posted}


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_return_waits_for_the_batch_in_flight_that_carries_its_original(
    make_agent, batches_at_hq, in_flight
):
    agent = make_agent(batch_size=4, in_flight=in_flight)
    first = [sale() for _ in range(5)]
    returned = sale(kind="return", original_sale_id=first[1]["sale_id"])
    behind = [sale() for _ in range(3)]
    agent.accept([*first, returned, *behind])
    counts = agent.forwarder.drain()
    assert counts["posted"] == 9 and agent.journal.queued == 0
    ids = [s["sale_id"] for s in [*first, returned, *behind]]
    if in_flight == 2:
        # The second batch is cut before the return (its original is in the first batch, still
        # in flight); the return leads the third, sent once HQ answered for the first.
        wanted = [set(ids[:4]), {ids[4]}, set(ids[5:])]
    else:
        wanted = [set(ids[:4]), set(ids[4:8]), {ids[8]}]
    assert sorted(batches_at_hq, key=min) == sorted(wanted, key=min)
    posted = Sale.objects.get(sale_id=returned["sale_id"])
    assert posted.original.sale_id == first[1]["sale_id"]


def test_every_sale_of_a_long_backlog_posts_once_with_two_batches_in_flight(make_agent):
    agent = make_agent(batch_size=5, in_flight=2)
    sales = [sale() for _ in range(23)]
    # Returns of sales one, two and three batches back, and one right behind its original.
    sales.insert(7, sale(kind="return", original_sale_id=sales[5]["sale_id"]))
    sales.insert(12, sale(kind="return", original_sale_id=sales[1]["sale_id"]))
    sales.insert(20, sale(kind="void", original_sale_id=sales[19]["sale_id"]))
    agent.accept(sales)
    counts = agent.forwarder.drain()
    assert counts == {**counts, "sent": 26, "posted": 26, "rejected": 0, "conflict": 0}
    assert Sale.objects.filter(sale_id__in=[s["sale_id"] for s in sales]).count() == 26
    assert agent.status()["last_sync_at"] is not None


def test_when_hq_is_down_a_round_sends_nothing_more_and_keeps_every_sale(make_agent, down_url):
    agent = make_agent(hq=down_url, batch_size=2, in_flight=2)
    agent.accept([sale() for _ in range(7)])
    with pytest.raises(HQUnavailable):
        agent.forwarder.forward_round()
    assert agent.journal.queued == 7 and agent.journal.counts() == {"queued": 7}
    assert agent.status()["last_sync_at"] is None


class FirstBatchLast(httpx.HTTPTransport):
    """The agent's real link to HQ, except that the batch carrying ``held_sale`` leaves only once
    HQ has answered another batch: HQ commits the later-sent batch first. ``refuse_balances``:
    balance look-ups fail as if HQ were out of reach."""

    def __init__(self, held_sale: str):
        super().__init__()
        self.held_sale = held_sale.encode()
        self.other_answered = threading.Event()
        self.refuse_balances = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/loyalty/balances") and self.refuse_balances:
            raise httpx.ConnectError("HQ out of reach (test)", request=request)
        if not request.url.path.endswith("/sales:batch"):
            return super().handle_request(request)
        if self.held_sale in request.content:
            self.other_answered.wait(30)
            return super().handle_request(request)
        response = super().handle_request(request)
        self.other_answered.set()  # HQ answers after its commit
        return response


def _two_batches_of_one_member(make_agent, in_flight=2):
    """Four sales in batches of two: member M0000042 in both batches (a first 12.00, then
    7.00); returns (agent, transport, the two batches' sale ids)."""
    create_member(name="Dana", loyalty_id="M0000042")
    sales = [
        sale(cents=1_200, member="M0000042"),
        sale(cents=300),
        sale(cents=700, member="M0000042"),
        sale(cents=400),
    ]
    transport = FirstBatchLast(held_sale=sales[0]["sale_id"])
    agent = make_agent(batch_size=2, in_flight=in_flight, transport=transport)
    agent.accept(sales)
    ids = [s["sale_id"] for s in sales]
    return agent, transport, [set(ids[:2]), set(ids[2:])]


def _cached_balance(agent) -> int | None:
    return agent.journal.member("M0000042")[0]


def test_a_member_in_two_batches_in_flight_keeps_hqs_newest_balance(make_agent, batches_at_hq):
    agent, _, (first, second) = _two_batches_of_one_member(make_agent)
    counts = agent.forwarder.drain()
    assert counts["posted"] == 4 and agent.journal.queued == 0
    assert batches_at_hq == [second, first]  # HQ committed the later-sent batch first
    # The first batch's answer has both sales' points, the second's only its own; the agent
    # writes them in the order it sent them, then asks HQ again for the member in both.
    hq_balance = Member.objects.get(loyalty_id="M0000042").balance
    assert hq_balance == 12 + 7
    assert _cached_balance(agent) == hq_balance
    assert agent.forwarder.balances_refreshed == 1 and not agent.forwarder.stale_balances


def test_a_balance_hq_fails_to_give_is_asked_for_again_in_the_next_round(make_agent, batches_at_hq):
    agent, transport, (first, second) = _two_batches_of_one_member(make_agent)
    transport.refuse_balances = True
    counts = agent.forwarder.drain()
    assert counts["posted"] == 4 and batches_at_hq == [second, first]
    assert agent.forwarder.stale_balances == {"M0000042"}
    assert _cached_balance(agent) == 7  # the older answer, written last
    transport.refuse_balances = False
    assert agent.forwarder.forward_round()["sent"] == 0  # nothing queued: the refresh alone
    assert _cached_balance(agent) == Member.objects.get(loyalty_id="M0000042").balance == 19
    assert not agent.forwarder.stale_balances


def test_one_batch_at_a_time_asks_for_no_balance_again(make_agent, batches_at_hq):
    create_member(name="Dana", loyalty_id="M0000042")
    agent = make_agent(batch_size=2, in_flight=1)
    agent.accept([sale(cents=1_200, member="M0000042") for _ in range(4)])
    assert agent.forwarder.drain()["posted"] == 4
    assert _cached_balance(agent) == Member.objects.get(loyalty_id="M0000042").balance == 48
    assert agent.forwarder.balances_refreshed == 0


class CountingBalances(httpx.HTTPTransport):
    """The agent's real link to HQ, counting its balance requests and the ids in each."""

    def __init__(self):
        super().__init__()
        self.asked: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/loyalty/balances"):
            self.asked.append(len(request.url.params["ids"].split(",")))
        return super().handle_request(request)


def test_many_balances_are_asked_for_two_hundred_at_a_time(make_agent):
    create_member(name="Dana", loyalty_id="M0000042")
    transport = CountingBalances()
    agent = make_agent(transport=transport)
    agent.journal.remember_balance("M0000042", 999)  # an older figure than HQ's
    unknown = {f"X{i:07d}" for i in range(249)}  # no such members at HQ
    agent.forwarder.stale_balances = {"M0000042", *unknown}
    agent.forwarder._refresh_balances()
    assert transport.asked == [200, 50]
    assert _cached_balance(agent) == 0
    assert agent.journal.member("X0000001")[0] is None  # nothing kept for an unknown member
    assert not agent.forwarder.stale_balances and agent.forwarder.balances_refreshed == 250
