"""Customer service granting an offer by hand while the campaign's chunk offers the same
customer, on PostgreSQL: the agent hears "already has an offer", never a server error."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tideover.core.actors import Actor
from tideover.core.errors import Conflict
from tideover.recovery import campaign as campaign_module
from tideover.recovery import servicedesk
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer
from tideover.recovery.tests.conftest import CX

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
AGENT = Actor(name="customer_service")


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_grant_by_hand_racing_the_campaign_chunk_is_refused_as_already_offered(
    incident, sign_up, policy, monkeypatch
):
    customer = sign_up(email="both@example.com")
    policy(offer_value=500)
    campaign = start_campaign(incident, actor=CX)
    written, go = threading.Event(), threading.Event()
    real_issue = campaign_module.issue_offers

    def issue_then_hold(*args, **kwargs):
        ids = real_issue(*args, **kwargs)
        written.set()  # the chunk's offer is written, not committed yet
        go.wait(30)
        return ids

    monkeypatch.setattr(campaign_module, "issue_offers", issue_then_hold)
    outcomes: dict[str, object] = {}

    def in_thread(name, work):
        def run():
            try:
                outcomes[name] = work()
            except Exception as exc:  # judged below
                outcomes[name] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    chunk = in_thread("campaign", lambda: run_campaign(campaign))
    assert written.wait(30)
    grant = in_thread(
        "grant", lambda: servicedesk.grant_offer(customer, actor=AGENT, reason="Called in")
    )
    deadline = time.monotonic() + 10
    while not waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    go.set()
    chunk.join(30)
    grant.join(30)
    assert not isinstance(outcomes["campaign"], Exception), outcomes["campaign"]
    refused = outcomes["grant"]
    assert isinstance(refused, Conflict), repr(refused)
    assert "already has an offer" in str(refused)
    offer = GoodwillOffer.objects.get(customer=customer)
    assert offer.created_by == "campaign"
