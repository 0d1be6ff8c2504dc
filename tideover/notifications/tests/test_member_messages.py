from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from tideover.core import events
from tideover.notifications.member_messages import next_allowed_time, queue_member_message
from tideover.notifications.models import OutboxMessage

CHICAGO = ZoneInfo("America/Chicago")


def _queue(**overrides):
    args = {
        "member_id": "L100",
        "email": "lee@example.com",
        "phone_e164": "+15125550180",
        "consent_email": True,
        "consent_sms": False,
        "subject": "Your reward",
        "body": "You earned $5 off.",
        "dedupe_key": "reward:1",
        "category": "transactional",
    }
    return queue_member_message(**{**args, **overrides})


def test_member_message_goes_only_to_consented_channels_and_only_once(db):
    assert _queue() == ["email"]
    assert _queue() == ["email"]  # same dedupe key: still one row
    assert OutboxMessage.objects.count() == 1
    assert _queue(dedupe_key="reward:2", consent_sms=True) == ["email", "sms"]
    assert OutboxMessage.objects.count() == 3


def test_marketing_waits_for_the_end_of_quiet_hours_in_the_recipients_zone(settings):
    settings.NOTIFY_QUIET_HOURS = "21:00-08:00"
    late = datetime(2026, 11, 21, 22, 30, tzinfo=CHICAGO)
    assert next_allowed_time(late, "America/Chicago") == datetime(
        2026, 11, 22, 8, 0, tzinfo=CHICAGO
    )
    early = datetime(2026, 11, 22, 6, 0, tzinfo=CHICAGO)
    assert next_allowed_time(early, "America/Chicago") == datetime(
        2026, 11, 22, 8, 0, tzinfo=CHICAGO
    )
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=CHICAGO)
    assert next_allowed_time(noon, "America/Chicago") == noon


def test_transactional_goes_at_any_hour_marketing_is_scheduled(db, settings):
    settings.NOTIFY_QUIET_HOURS = "00:00-23:59"  # always quiet
    _queue(dedupe_key="t")
    _queue(dedupe_key="m", category="marketing")
    now = timezone.now()
    transactional = OutboxMessage.objects.get(dedupe_key="member:t:email")
    marketing = OutboxMessage.objects.get(dedupe_key="member:m:email")
    assert transactional.next_attempt_at <= now < marketing.next_attempt_at


def test_loyalty_reward_event_is_heard_by_name(db):
    class Member:
        pk = 7
        loyalty_id = "L7"
        email = "kim@example.com"
        phone_e164 = ""

    class Reward:
        pk = 99

    events.publish("loyalty.reward_issued", member=Member(), reward=Reward(), text="$5 off!")
    message = OutboxMessage.objects.get()
    assert message.dedupe_key == "member:loyalty.reward_issued:99:email"
    assert message.body == "$5 off!" and message.category == "transactional"
