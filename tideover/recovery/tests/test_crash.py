"""A campaign process killed for real mid-way, then run again: every affected customer gets
exactly one offer, one code and one message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from tideover.loyalty.models import Reward
from tideover.notifications.models import OutboxMessage
from tideover.recovery.models import AffectedCustomer, Campaign, GoodwillOffer

ROOT = Path(__file__).resolve().parents[3]


def _env(settings) -> dict:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": settings.SECRET_KEY,
            "NOTIFY_QUIET_HOURS": "", "LOYALTY_POINTS_PER_DOLLAR": "10"}  # fmt: skip


def _send(incident, env, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tideover", "goodwill", str(incident.pk), "--chunk-size", "7",
         *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_campaign_killed_mid_way_and_run_again_sends_each_offer_once(
    incident, sign_up, make_member, policy, settings
):
    total = 120 if os.environ.get("TIDEOVER_SLOW") else 60
    card = make_member("M-CRASH", tier="cardholder", phone="+15125550900", sms=True)
    sign_up(loyalty_id=card.loyalty_id)
    for i in range(total - 1):
        sign_up(email=f"shopper{i}@example.com")
    policy(tier_bonus={"cardholder": {"points": 100}})
    env = _env(settings)
    first = _send(incident, env, "--start", "--pace", "0.05")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert first.poll() is None, first.stderr.read().decode()
        campaign = Campaign.objects.filter(incident=incident).first()
        if campaign is not None and campaign.cursor and campaign.offers >= total // 3:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    campaign = Campaign.objects.get(incident=incident)
    assert campaign.state == "running" and 0 < campaign.offers < total
    second = _send(incident, env)
    assert second.wait(120) == 0, second.stderr.read().decode()

    campaign.refresh_from_db()
    assert campaign.state == "done" and campaign.offers == total
    assert GoodwillOffer.objects.count() == total == AffectedCustomer.objects.count()
    assert Reward.objects.filter(kind="goodwill").count() == total
    per_recipient = Counter(
        OutboxMessage.objects.filter(category="marketing").values_list("recipient", flat=True)
    )
    assert len(per_recipient) == total and set(per_recipient.values()) == {1}
    card.refresh_from_db()
    assert card.balance == 100  # the bonus points posted once
