"""Points from one sale: capped, and above a size held for a person instead of posted.

A sale never earns more than ``LOYALTY_SALE_POINTS_CAP``; one that earns more than
``LOYALTY_SALE_POINTS_REVIEW`` posts (the sale stands) but its points wait as a ``HeldPoints``
row. Customer service or CX approves them (they post then, as the sale's own accrual entry, so
a later return takes them back as usual) or rejects them; both are audited. A return or void
of a sale whose points are still held takes its share off the held points instead.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.errors import Conflict, DomainError, PermissionDenied
from tideover.loyalty import audit, ledger
from tideover.loyalty.config import Program
from tideover.loyalty.ledger import Posting
from tideover.loyalty.models import Account, EntryKind, HeldPoints, HoldState


def screen(points: int, sale, member_pk: int, paid_cents: int, prog: Program):
    """(points to post now, notes for the till, a new unsaved hold or None)."""
    notes = []
    if points > prog.sale_points_cap:
        notes.append(
            f"Points capped at {prog.sale_points_cap:,} for one sale "
            f"(it would have earned {points:,})"
        )
        points = prog.sale_points_cap
    if points <= prog.sale_points_review:
        return points, notes, None
    hold = HeldPoints(
        member_id=member_pk,
        sale_key=sale.key,
        store_code=sale.store.code,
        sale_id=sale.sale_id,
        paid_cents=paid_cents,
        held=points,
        points=points,
        occurred_at=sale.occurred_at,
        posted_by=(getattr(sale, "posted_by", "") or "")[:150],
    )
    notes.append(
        f"{points:,} points held for review (more than {prog.sale_points_review:,} from one "
        "sale); they post when customer service approves them"
    )
    return 0, notes, hold


def pending_for(keys) -> dict[str, HeldPoints]:
    """Pending holds of these sales, locked (a return and an approval must not cross)."""
    if not keys:
        return {}
    return {
        h.sale_key: h
        for h in HeldPoints.objects.select_for_update().filter(
            sale_key__in=list(keys), state=HoldState.PENDING
        )
    }


def members_of(keys) -> dict[str, int]:
    """The member of each of these sales' holds, whatever their state (to lock them first)."""
    if not keys:
        return {}
    return dict(
        HeldPoints.objects.filter(sale_key__in=list(keys)).values_list("sale_key", "member_id")
    )


def approved_for(keys) -> dict[str, HeldPoints]:
    """Approved holds of these sales: their accrual posted only what returns had left."""
    if not keys:
        return {}
    return {
        h.sale_key: h
        for h in HeldPoints.objects.filter(sale_key__in=list(keys), state=HoldState.APPROVED)
    }


def take_back(hold: HeldPoints, undo, paid_cents: int) -> str:
    """A return or void of a sale whose points are held: less is held (nothing, for a void).
    Saves a hold that is already in the database; returns the note for the till."""
    if undo.kind == "void" or hold.paid_cents <= 0 or paid_cents >= hold.paid_cents:
        back = hold.points
    else:
        back = min(hold.points, -(-hold.held * paid_cents // hold.paid_cents))
    hold.points -= back
    if hold.points <= 0:
        hold.state = HoldState.CANCELLED
        hold.decided_at = timezone.now()
        hold.decision_note = f"{undo.get_kind_display().split(' ')[0]} {undo.sale_id}"
    if hold.pk is not None:
        hold.save(update_fields=["points", "state", "decided_at", "decision_note"])
    return f"{back:,} points held for review on sale {hold.sale_id} will not post"


def approve(hold: HeldPoints, *, actor: Actor, note: str = "") -> HeldPoints:
    """Post held points as the sale's accrual (rewards they earn are issued at once)."""
    return _decide(hold, actor=actor, note=note, approve=True)


def reject(hold: HeldPoints, *, actor: Actor, note: str) -> HeldPoints:
    """Turn held points down, saying why; nothing posts."""
    if not (note or "").strip():
        raise DomainError("Say why the points are rejected", field="note")
    return _decide(hold, actor=actor, note=note, approve=False)


def _decide(hold: HeldPoints, *, actor: Actor, note: str, approve: bool) -> HeldPoints:
    from tideover.loyalty.adjustments import apply_posting

    if actor.user is None:
        raise PermissionDenied("A person must review held points, not a token")
    with transaction.atomic():
        member = ledger.lock_members(pks=[hold.member_id])[hold.member_id]
        hold = HeldPoints.objects.select_for_update().get(pk=hold.pk)
        if hold.state != HoldState.PENDING:
            raise Conflict(f"These points are already {hold.get_state_display().lower()}")
        hold.state = HoldState.APPROVED if approve else HoldState.REJECTED
        hold.decided_by = actor.user
        hold.decided_by_name = actor.name
        hold.decided_at = timezone.now()
        hold.decision_note = (note or "").strip()[:2000]
        hold.save()
        if approve and hold.points > 0:
            apply_posting(
                member,
                Posting(
                    member=member,
                    kind=EntryKind.ACCRUAL,
                    source_type="sale",
                    source_id=hold.sale_key,
                    points=hold.points,
                    contra=Account.POINTS_ISSUED,
                    occurred_at=hold.occurred_at,
                    actor=f"{hold.posted_by or 'system'}, approved by {actor.name}"[:150],
                    reason=f"Purchase at {hold.store_code} (held for review, approved)",
                ),
                actor,
            )
        verb = "approved" if approve else "rejected"
        audit.record(actor, f"held_points_{verb}", member, f"{hold.sale_key} {hold.points:+d}")
    return hold
