"""Who did what to a member's loyalty record. Never personal data in the detail."""

from __future__ import annotations

from dataclasses import dataclass

from tideover.loyalty.models import AuditRecord, Member


@dataclass(frozen=True)
class Actor:
    """A staff user, or a named machine (``token:name``) or ``system``."""

    user: object | None = None
    name: str = "system"

    @classmethod
    def of(cls, user=None, name: str | None = None) -> Actor:
        if user is not None:
            return cls(user=user, name=name or user.get_username())
        return cls(user=None, name=name or "system")


SYSTEM = Actor()


def record(actor: Actor, action: str, member: Member | None = None, detail: str = "") -> None:
    AuditRecord.objects.create(
        actor=actor.name[:150], action=action, member=member, detail=detail[:500]
    )
