"""Who did what to a member's loyalty record. Never personal data in the detail."""

from __future__ import annotations

from tideover.core.actors import Actor
from tideover.loyalty.models import AuditRecord, Member


def record(actor: Actor, action: str, member: Member | None = None, detail: str = "") -> None:
    AuditRecord.objects.create(
        actor=actor.name[:150], action=action, member=member, detail=detail[:500]
    )


def record_many(actor: Actor, action: str, entries: list[tuple[Member, str]]) -> None:
    """One record per (member, detail), in one insert."""
    AuditRecord.objects.bulk_create(
        [
            AuditRecord(actor=actor.name[:150], action=action, member=m, detail=d[:500])
            for m, d in entries
        ]
    )
