"""Two batches in flight: HQ may commit them in either order, so a return or void whose original
sale is in the batch still in flight waits for that batch's answer; everything else goes on."""

from __future__ import annotations

import pytest

from tideover.agent.hq import HQUnavailable
from tideover.agent.tests.conftest import sale
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
