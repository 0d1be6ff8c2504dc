"""A STOP reply reaches the loyalty programme: no marketing SMS to that number's members."""

from tideover.loyalty.members import create_member
from tideover.loyalty.models import ConsentRecord
from tideover.notifications.inbound import handle_inbound_sms


def test_stop_reply_withdraws_marketing_sms_consent_of_members_with_that_number(db, chain):
    member = create_member(
        name="Dana Shopper",
        phone="+1 512 555 0142",
        loyalty_id="M0000042",
        consents={"transactional": True, "marketing_sms": True},
        consent_source="store sign-up form",
    )
    other = create_member(
        name="Sam Other",
        phone="+1 512 555 0199",
        loyalty_id="M0000043",
        consents={"marketing_sms": True},
        consent_source="store sign-up form",
    )
    handle_inbound_sms(sender="+15125550142", body="STOP")
    member.refresh_from_db()
    other.refresh_from_db()
    assert member.consent_marketing_sms is False and member.consent_transactional is True
    assert other.consent_marketing_sms is True
    record = ConsentRecord.objects.filter(member=member).latest("at")
    assert (record.channel, record.granted, record.source) == (
        "marketing_sms",
        False,
        "SMS STOP reply",
    )
