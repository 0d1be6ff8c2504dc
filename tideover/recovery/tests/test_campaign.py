"""The campaign: one offer per person, consent, quiet hours, pause/resume, drills."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tideover.loyalty.models import JournalEntry, Reward
from tideover.notifications.models import OutboxMessage
from tideover.recovery.campaign import pause, resume, run_campaign, start_campaign
from tideover.recovery.models import CampaignState, GoodwillOffer
from tideover.recovery.tests.conftest import CX, text_sent

pytestmark = pytest.mark.django_db


def test_campaign_gives_each_person_one_offer_with_a_code_and_tier_bonus_points(
    incident, sign_up, make_member, policy
):
    gold = make_member("M-CARD", tier="cardholder", phone="+15125550150", sms=True)
    sign_up(phone="+1 512 555 0150", name="Gold")  # the cardholder, again, by phone
    sign_up(email="pat@example.com", name="Pat")
    policy(offer_value=500, min_spend_cents=2500, tier_bonus={"cardholder": {"points": 200}})
    campaign = run_campaign(start_campaign(incident, actor=CX))
    assert campaign.state == CampaignState.DONE and campaign.offers == 2
    offers = {o.customer.member_id: o for o in GoodwillOffer.objects.select_related("customer")}
    assert offers[gold.pk].bonus_points == 200 and offers[gold.pk].points_granted
    assert offers[None].bonus_points == 0
    assert JournalEntry.objects.filter(source_type="goodwill", member=gold).count() == 1
    gold.refresh_from_db()
    assert gold.balance == 200
    rewards = Reward.objects.filter(kind="goodwill")
    assert rewards.count() == 2
    assert {r.min_spend_cents for r in rewards} == {2500}
    messages = OutboxMessage.objects.filter(category="marketing")
    assert sorted(messages.values_list("channel", flat=True)) == ["email", "sms"]
    sms = text_sent(messages.get(channel="sms"))
    assert offers[gold.pk].code in sms and "$5.00 off" in sms
    assert "every purchase has been recorded" in sms  # the public explanation
    email = text_sent(messages.get(channel="email"))
    assert email.startswith("Hello Pat,") and offers[None].code in email
    assert "opt-out" in email or "stop marketing" in email.lower()


def test_without_marketing_consent_nobody_is_messaged(incident, sign_up, make_member, policy):
    make_member("M-NOMKT", phone="+15125550160")  # a member without marketing consent
    from tideover.loyalty.models import Member
    from tideover.recovery.capture import Person, record

    record(incident, Person(member=Member.objects.get(loyalty_id="M-NOMKT")), source="sale_failed")
    sign_up(phone="+15125550161")
    policy()
    campaign = run_campaign(start_campaign(incident, actor=CX))
    assert campaign.offers == 1
    assert campaign.skipped == {"no_marketing_consent": 1}
    assert OutboxMessage.objects.filter(category="marketing").count() == 1


def test_marketing_waits_for_the_end_of_quiet_hours_in_the_stores_time_zone(
    incident, sign_up, policy, settings, chain, monkeypatch
):
    settings.NOTIFY_QUIET_HOURS = "21:00-08:00"
    tokyo = chain["stores"]["S002"]
    tokyo.time_zone = "Asia/Tokyo"
    tokyo.save()
    sign_up(store="S001", phone="+15125550170")  # Chicago
    sign_up(store="S002", phone="+15125550171")  # Tokyo
    policy()
    # 20:00 UTC: 14:00 in Chicago (send now), 05:00 in Tokyo (quiet until 08:00 = 23:00 UTC)
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: now)
    run_campaign(start_campaign(incident, actor=CX))
    due = {
        m.recipient: m.next_attempt_at for m in OutboxMessage.objects.filter(category="marketing")
    }
    assert due["+15125550170"] == now
    assert due["+15125550171"] == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def test_pause_holds_queued_messages_and_resume_lets_them_go(incident, sign_up, policy):
    from tideover.notifications.outbox import claim_batch

    for i in range(3):
        sign_up(phone=f"+1512555018{i}")
    policy()
    campaign = start_campaign(incident, actor=CX)
    run_campaign(campaign, chunk_size=2, max_seconds=0)  # one chunk, then out of time
    campaign = pause(campaign, actor=CX)
    assert run_campaign(campaign).state == CampaignState.PAUSED  # the walk stops too
    assert OutboxMessage.objects.filter(category="marketing").count() == 2
    assert claim_batch(10)[1] == []  # nothing due while paused
    campaign = resume(campaign, actor=CX)
    assert run_campaign(campaign).state == CampaignState.DONE
    assert OutboxMessage.objects.filter(category="marketing").count() == 3
    assert len(claim_batch(10)[1]) == 3


def test_a_drill_walks_everything_and_sends_nothing(severities, components, chain, policy):
    from tideover.incidents import services as incidents
    from tideover.recovery import capture
    from tideover.recovery.policy import set_policy

    drill = incidents.declare_incident(
        title="Drill: registers down",
        severity=severities["SEV2"],
        stores=[chain["stores"]["S001"]],
        is_drill=True,
    )
    incidents.resolve_incident(drill, "Drill over.")
    drill.refresh_from_db()
    person = capture.person_from_form(phone="+15125550190")
    capture.sign_up(drill, chain["stores"]["S001"], person, consent=True,
                    shown_consent_text=capture.consent_text(), source="associate")  # fmt: skip
    set_policy(drill, actor=CX)
    campaign = run_campaign(start_campaign(drill, actor=CX))
    assert campaign.is_drill and campaign.state == CampaignState.DONE
    assert campaign.queued == 1 and campaign.offers == 0
    assert not OutboxMessage.objects.filter(category="marketing").exists()
    assert not Reward.objects.filter(kind="goodwill").exists()


def test_the_campaign_starts_once_and_only_after_resolution(incident, sign_up, policy):
    from tideover.core.errors import Conflict

    sign_up(phone="+15125550199")
    policy()
    start_campaign(incident, actor=CX)
    with pytest.raises(Conflict):
        start_campaign(incident, actor=CX)


def test_a_message_queued_before_is_skipped_not_doubled_when_queuing_in_bulk(incident):
    from tideover.notifications.campaigns import MarketingMessage, queue_marketing

    first = MarketingMessage("email", "a@example.com", "Sorry", "Code X", "goodwill:t:1")
    queue_marketing([first], incident_id=incident.pk)
    second = MarketingMessage("email", "b@example.com", "Sorry", "Code Y", "goodwill:t:2")
    queue_marketing([first, second], incident_id=incident.pk)
    assert sorted(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == [
        "goodwill:t:1",
        "goodwill:t:2",
    ]
