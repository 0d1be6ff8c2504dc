"""/api/v1/loyalty/held...: points held for review, for the people who decide them.

The same queue and decisions as the console page (``views_held``), through ``holds``. Only
people decide (a token is refused before anything is read): approving posts points as the
sale's own accrual, rejecting needs a reason; both are audit records.
"""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from tideover.core.actors import Actor
from tideover.core.api_auth import access
from tideover.core.errors import DomainError, NotFound
from tideover.core.roles import Capability
from tideover.loyalty import holds
from tideover.loyalty.models import HeldPoints, HoldState
from tideover.loyalty.schemas import DecisionIn

router = Router(tags=["loyalty"])

REVIEW = {"scope": None, "capability": Capability.REVIEW_HELD_POINTS}


class HeldOut(Schema):
    id: int
    loyalty_id: str
    store: str
    sale_id: str
    paid_cents: int
    held: int
    points: int
    occurred_at: datetime
    held_at: datetime
    state: str
    decided_by: str
    decided_at: datetime | None
    decision_note: str


def held_out(hold: HeldPoints) -> dict:
    return {
        "id": hold.pk,
        "loyalty_id": hold.member.loyalty_id,
        "store": hold.store_code,
        "sale_id": hold.sale_id,
        "paid_cents": hold.paid_cents,
        "held": hold.held,
        "points": hold.points,
        "occurred_at": hold.occurred_at,
        "held_at": hold.held_at,
        "state": hold.state,
        "decided_by": hold.decided_by_name,
        "decided_at": hold.decided_at,
        "decision_note": hold.decision_note,
    }


def _hold(hold_id: int) -> HeldPoints:
    found = HeldPoints.objects.select_related("member").filter(pk=hold_id).first()
    if found is None:
        raise NotFound(f"No held points #{hold_id}")
    return found


@router.get(
    "/held",
    response=list[HeldOut],
    summary="Points held for review (pending first in the order they were held)",
    auth=access(**REVIEW),
)
def list_held(request, state: str = HoldState.PENDING, limit: int = 200):
    if state not in HoldState.values:
        raise DomainError(f"state is one of {', '.join(HoldState.values)}", field="state")
    query = HeldPoints.objects.select_related("member").filter(state=state)
    if state == HoldState.PENDING:
        query = query.order_by("held_at", "pk")
    return [held_out(h) for h in query[: max(1, min(limit, 1000))]]


@router.post(
    "/held/{hold_id}/approve",
    response=HeldOut,
    summary="Approve: the points post as the sale's own",
    auth=access(**REVIEW),
)
def approve_held(request, hold_id: int, payload: DecisionIn):
    holds.approve(_hold(hold_id), actor=Actor.of(request.auth), note=payload.note)
    return held_out(_hold(hold_id))


@router.post(
    "/held/{hold_id}/reject",
    response=HeldOut,
    summary="Reject, saying why: nothing posts",
    auth=access(**REVIEW),
)
def reject_held(request, hold_id: int, payload: DecisionIn):
    holds.reject(_hold(hold_id), actor=Actor.of(request.auth), note=payload.note)
    return held_out(_hold(hold_id))
