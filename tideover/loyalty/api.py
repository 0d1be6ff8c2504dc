"""/api/v1/loyalty/...: members, balances, statements, rewards and adjustments."""

from __future__ import annotations

from ninja import Query, Router, Status

from tideover.core.actors import Actor
from tideover.core.api_auth import access, actor_name, actor_user
from tideover.core.errors import DomainError, NotFound
from tideover.core.models import ApiToken, Store, TokenScope
from tideover.core.roles import Capability
from tideover.loyalty import adjustments, audit, members, rewards, statements
from tideover.loyalty.api_held import router as held_router
from tideover.loyalty.config import program
from tideover.loyalty.models import Adjustment, AdjustmentState, Member
from tideover.loyalty.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    BalanceOut,
    BalancesOut,
    CodeCheckOut,
    ConsentIn,
    DecisionIn,
    EntryOut,
    MemberIn,
    MemberOut,
    RewardOut,
)

PREFIX = "/loyalty"
router = Router(tags=["loyalty"])
router.add_router("", held_router)

READ = {"scope": TokenScope.LOYALTY_READ, "capability": Capability.VIEW_MEMBERS}
MAX_BASKET_CENTS = 2**53 - 1  # what a JSON number holds exactly
ADJUST = {"scope": TokenScope.LOYALTY_WRITE, "capability": Capability.ADJUST_POINTS}


def _actor(request) -> Actor:
    return Actor(user=actor_user(request), name=actor_name(request))


def _sees_contacts(caller) -> bool:
    # A store agent's token needs balances, not phone numbers.
    return not (isinstance(caller, ApiToken) and caller.store_id)


def member_out(member: Member, *, contacts: bool) -> dict:
    return {
        "loyalty_id": member.loyalty_id,
        "name": member.name,
        "phone": member.phone_e164 if contacts else None,
        "email": member.email if contacts else None,
        "tier": member.tier,
        "balance": member.balance,
        "home_store": member.home_store.code if member.home_store_id else None,
        "consent": {
            "transactional": member.consent_transactional,
            "marketing_sms": member.consent_marketing_sms,
            "marketing_email": member.consent_marketing_email,
            "updated_at": member.consent_updated_at,
            "source": member.consent_source,
        },
        "created_at": member.created_at,
    }


def adjustment_out(adjustment: Adjustment) -> dict:
    return {
        "id": adjustment.pk,
        "loyalty_id": adjustment.member.loyalty_id,
        "points": adjustment.points,
        "reason_code": adjustment.reason_code,
        "note": adjustment.note,
        "state": adjustment.state,
        "requested_by": adjustment.requested_by_name,
        "requested_at": adjustment.requested_at,
        "decided_by": adjustment.decided_by_name,
        "decided_at": adjustment.decided_at,
        "decision_note": adjustment.decision_note,
    }


def _member(loyalty_id: str) -> Member:
    member = (
        Member.objects.select_related("home_store").filter(loyalty_id=loyalty_id.upper()).first()
    )
    if member is None:
        raise NotFound(f"No member with loyalty id {loyalty_id!r}")
    return member


@router.get(
    "/members",
    response=list[MemberOut],
    summary="Find members by id, phone or e-mail",
    auth=access(**READ),
)
def search(request, q: str):
    caller = request.auth
    found = members.search_members(q, actor=_actor(request))
    return [member_out(m, contacts=_sees_contacts(caller)) for m in found]


@router.post(
    "/members", response={201: MemberOut}, summary="Sign a member up", auth=access(**ADJUST)
)
def create(request, payload: MemberIn):
    store = None
    if payload.home_store:
        store = Store.objects.filter(code=payload.home_store).first()
        if store is None:
            raise DomainError(f"Unknown store {payload.home_store!r}", field="home_store")
    member = members.create_member(
        name=payload.name,
        phone=payload.phone,
        email=payload.email,
        tier=payload.tier,
        loyalty_id=payload.loyalty_id,
        consents=dict(payload.consents),
        consent_source=payload.consent_source,
        home_store=store,
        actor=_actor(request),
    )
    return Status(201, member_out(member, contacts=True))


@router.get("/members/{loyalty_id}", response=MemberOut, summary="One member", auth=access(**READ))
def get_member(request, loyalty_id: str):
    caller = request.auth
    member = _member(loyalty_id)
    audit.record(_actor(request), "member_viewed", member, "api")
    return member_out(member, contacts=_sees_contacts(caller))


@router.post(
    "/members/{loyalty_id}/consent",
    response=MemberOut,
    summary="Give or withdraw a consent",
    auth=access(**ADJUST),
)
def consent(request, loyalty_id: str, payload: ConsentIn):
    member = members.set_consent(
        _member(loyalty_id),
        payload.channel,
        payload.granted,
        source=payload.source,
        actor=_actor(request),
    )
    return member_out(member, contacts=True)


@router.get(
    "/members/{loyalty_id}/balance",
    response=BalanceOut,
    summary="Balance, rewards, expiring points",
    auth=access(**READ),
)
def balance(request, loyalty_id: str):
    caller = request.auth
    member = _member(loyalty_id)
    threshold = program().reward_threshold
    return {
        "loyalty_id": member.loyalty_id,
        "balance": member.balance,
        "tier": member.tier,
        "pending_rewards": _rewards_out(statements.pending_rewards(member), caller),
        "expiring": [
            {"expires_on": lot.expires_on, "points": lot.remaining}
            for lot in statements.upcoming_expiry(member)
        ],
        "next_reward_in_points": threshold - member.balance % threshold
        if member.balance >= 0
        else threshold - member.balance,
    }


BALANCES_PER_REQUEST = 200


@router.get(
    "/balances",
    response=BalancesOut,
    summary="Balances of several members at once (a store agent after its sales posted)",
    auth=access(**READ),
)
def balances(request, ids: str):
    """``ids``: loyalty ids separated by commas, at most BALANCES_PER_REQUEST. Members that do
    not exist are listed in ``unknown`` rather than failing the whole request."""
    wanted = list(dict.fromkeys(part.strip().upper() for part in ids.split(",") if part.strip()))
    if not wanted:
        raise DomainError("Give at least one loyalty id in ids (separated by commas)", field="ids")
    if len(wanted) > BALANCES_PER_REQUEST:
        raise DomainError(
            f"At most {BALANCES_PER_REQUEST} loyalty ids per request ({len(wanted)} given)",
            field="ids",
        )
    found = {
        loyalty_id: (balance, tier)
        for loyalty_id, balance, tier in Member.objects.filter(loyalty_id__in=wanted).values_list(
            "loyalty_id", "balance", "tier"
        )
    }
    return {
        "balances": [
            {"loyalty_id": key, "balance": found[key][0], "tier": found[key][1]}
            for key in wanted
            if key in found
        ],
        "unknown": [key for key in wanted if key not in found],
    }


@router.get(
    "/members/{loyalty_id}/statement",
    response=list[EntryOut],
    summary="Every entry, newest first, with its source, who and why",
    auth=access(**READ),
)
def statement(request, loyalty_id: str, limit: int = 200, before_id: int | None = None):
    caller = request.auth
    member = _member(loyalty_id)
    codes = _sees_codes(caller)
    return [
        {
            **{f: getattr(e, f) for f in EntryOut.model_fields if f != "lines"},
            # A reward entry's source is the reward's code.
            **({} if codes or e.source_type != "reward" else {"source_id": mask_code(e.source_id)}),
            "lines": list(e.lines.all()),
        }
        for e in statements.statement(member, limit=limit, before_id=before_id)
    ]


@router.get(
    "/members/{loyalty_id}/rewards",
    response=list[RewardOut],
    summary="All rewards",
    auth=access(**READ),
)
def member_rewards(request, loyalty_id: str):
    caller = request.auth
    return _rewards_out(list(_member(loyalty_id).rewards.all()), caller)


def _rewards_out(found: list, caller) -> list:
    if _sees_codes(caller):
        return found
    return [
        {name: getattr(r, name) for name in RewardOut.model_fields} | {"code": mask_code(r.code)}
        for r in found
    ]


def _sees_codes(caller) -> bool:
    # A code spends like cash: a read-only token (a store agent's) sees which reward it is,
    # not the code itself. Staff here have *view members* (require checked it).
    if isinstance(caller, ApiToken):
        return caller.has_scope(TokenScope.LOYALTY_WRITE)
    return True


def mask_code(code: str) -> str:
    """K7QX-M4PA-9TRC -> ****-****-9TRC: enough to tell rewards apart, not to spend one."""
    keep = len(code) - 4
    return "".join(c if i >= keep or c == "-" else "*" for i, c in enumerate(code))


@router.post(
    "/members/{loyalty_id}/adjustments",
    response={201: AdjustmentOut},
    summary="Credit or debit points (large ones wait for approval)",
    auth=access(**ADJUST),
)
def adjust(request, loyalty_id: str, payload: AdjustmentIn):
    adjustment = adjustments.request_adjustment(
        _member(loyalty_id),
        payload.points,
        payload.reason_code,
        payload.note,
        actor=_actor(request),
    )
    return Status(201, adjustment_out(adjustment))


@router.get(
    "/adjustments",
    response=list[AdjustmentOut],
    summary="Adjustments, newest first",
    auth=access(**READ),
)
def list_adjustments(request, state: str | None = None, limit: int = 100):
    query = Adjustment.objects.select_related("member")
    if state:
        if state not in AdjustmentState.values:
            raise DomainError(f"state is one of {', '.join(AdjustmentState.values)}", field="state")
        query = query.filter(state=state)
    return [adjustment_out(a) for a in query[: max(1, min(limit, 1000))]]


def _adjustment(adjustment_id: int) -> Adjustment:
    found = Adjustment.objects.select_related("member").filter(pk=adjustment_id).first()
    if found is None:
        raise NotFound(f"No adjustment #{adjustment_id}")
    return found


@router.post(
    "/adjustments/{adjustment_id}/approve",
    response=AdjustmentOut,
    summary="Approve",
    auth=access(capability=Capability.APPROVE_ADJUSTMENT),
)
def approve(request, adjustment_id: int, payload: DecisionIn):
    done = adjustments.approve_adjustment(
        _adjustment(adjustment_id), actor=_actor(request), note=payload.note
    )
    return adjustment_out(_adjustment(done.pk))


@router.post(
    "/adjustments/{adjustment_id}/reject",
    response=AdjustmentOut,
    summary="Reject",
    auth=access(capability=Capability.APPROVE_ADJUSTMENT),
)
def reject(request, adjustment_id: int, payload: DecisionIn):
    done = adjustments.reject_adjustment(
        _adjustment(adjustment_id), actor=_actor(request), note=payload.note
    )
    return adjustment_out(_adjustment(done.pk))


@router.get(
    "/rewards/{code}",
    response=CodeCheckOut,
    summary="Check a reward code at the till",
    auth=access(**READ),
)
def check_reward(
    request,
    code: str,
    basket_cents: int | None = Query(
        None,
        ge=0,
        le=MAX_BASKET_CENTS,
        description="The basket's total so far: the answer says whether it meets the minimum "
        "spend and what the code would take off it",
    ),
):
    reward = rewards.check_code(code)
    return {
        "code": reward.code,
        "kind": reward.kind,
        "value_cents": 0 if reward.percent_off else reward.value_cents,
        "percent_off": reward.percent_off,
        "min_spend_cents": reward.min_spend_cents,
        "valid_from": reward.valid_from,
        "expires_at": reward.expires_at,
        "usable": True,
        **rewards.for_basket(reward, basket_cents),
    }
