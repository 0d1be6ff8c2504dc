"""The sales figures other apps report (postmortems): what was queued offline during a window."""

from datetime import timedelta

from django.utils import timezone

from tideover.loyalty.tests.factories import sale
from tideover.sales.figures import window_figures
from tideover.sales.services import post_sales


def test_sales_the_agent_took_offline_or_that_posted_late_count_as_queued_offline(chain):
    now = timezone.now()
    blip = sale(at=now - timedelta(seconds=20), cents=1500)  # the agent says: taken offline
    late = sale(at=now - timedelta(minutes=40), cents=2500)  # a register's, posted 40 min late
    on_time = sale(at=now - timedelta(seconds=20), cents=900)
    post_sales([blip, late, on_time], queued_offline=[blip["sale_id"]])

    figures = window_figures([chain["stores"]["S001"].pk], now - timedelta(hours=1), now)
    assert figures["sales"] == 3
    assert figures["queued_offline"] == 2
    assert figures["queued_offline_cents"] == 1500 + 2500
    assert timedelta(minutes=39) < figures["longest_wait"] < timedelta(minutes=41)
