"""Telling members: record what was said (the member page shows it) and publish the event the
notifications app turns into outbox messages, in the same transaction."""

from __future__ import annotations

from tideover.core import events
from tideover.loyalty.models import Member, MemberNotice


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def tell(member: Member, kind: str, text: str, dedupe_key: str, event: str, **payload) -> bool:
    """Record and publish a message once per ``dedupe_key``; False when it was already sent."""
    _, created = MemberNotice.objects.get_or_create(
        dedupe_key=dedupe_key[:120], defaults={"member": member, "kind": kind, "text": text}
    )
    if created:
        events.publish(event, member=member, text=text, dedupe_key=dedupe_key, **payload)
    return created


def tell_many(kind: str, event: str, messages: list[tuple[Member, str, str, dict]]) -> None:
    """Record and publish new messages (member, text, dedupe key, payload) in one insert."""
    MemberNotice.objects.bulk_create(
        [
            MemberNotice(member=m, kind=kind, text=text, dedupe_key=key[:120])
            for m, text, key, _ in messages
        ]
    )
    for member, text, key, payload in messages:
        events.publish(event, member=member, text=text, dedupe_key=key, **payload)
