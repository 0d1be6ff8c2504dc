"""/api/v1/sales:batch and /api/v1/sales: registers and store agents post sales here."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema

from tideover.core.api_auth import access, actor_name
from tideover.core.errors import DomainError, NotFound
from tideover.core.models import ApiToken, TokenScope
from tideover.core.roles import Capability, sees_all_stores
from tideover.sales import services
from tideover.sales.models import Sale, SaleConflict
from tideover.sales.schemas import BatchIn, BatchOut, SaleIn, SaleResultOut

PREFIX = ""
router = Router(tags=["sales"])

WRITE = {"scope": TokenScope.SALES_WRITE, "capability": None}


def _post(request, items: list, queued_offline: list[str] = ()) -> list[services.SaleResult]:
    caller = request.auth
    token = caller if isinstance(caller, ApiToken) else None
    return services.post_sales(
        items, token=token, received_from=actor_name(request), queued_offline=queued_offline
    )


@router.post(
    "/sales:batch",
    response=BatchOut,
    summary="Post a batch of sales; each gets its own result",
    description="Idempotent: a sale sent any number of times, in any order or at once from "
    "several connections, posts once. Results: posted, duplicate (same content posted before), "
    "conflict (the id was posted with other content: refused and flagged for staff), rejected "
    "(with the reason). A store agent's token posts only its own store's sales; the agent "
    "names in queued_offline the sales it took while HQ could not be reached.",
    auth=access(**WRITE),
)
def post_batch(request, payload: BatchIn):
    results = _post(request, payload.sales, payload.queued_offline)
    counts = {kind: 0 for kind in ("posted", "duplicate", "conflict", "rejected")}
    for result in results:
        counts[result.result] += 1
    return {**counts, "results": [r.as_dict() for r in results]}


@router.post("/sales", response=SaleResultOut, summary="Post one sale", auth=access(**WRITE))
def post_one(request, payload: SaleIn):
    return _post(request, [payload])[0].as_dict()


class ConflictOut(Schema):
    id: int
    sale_id: str
    store_code: str
    received_at: datetime
    received_from: str
    reviewed_at: datetime | None
    payload: dict


class SaleOut(Schema):
    sale_id: str
    store: str
    register_code: str
    occurred_at: datetime
    posted_at: datetime
    status: str
    kind: str
    original_sale_id: str
    member_id: str
    total_cents: int
    paid_cents: int
    codes: list[str]


@router.get(
    "/sales/conflicts",
    response=list[ConflictOut],
    summary="Sales refused as conflicts",
    auth=access(capability=Capability.VIEW_SALES),
)
def list_conflicts(request, open: bool = True, limit: int = 100):
    caller = request.auth
    query = SaleConflict.objects.all()
    if not sees_all_stores(caller):
        profile = getattr(caller, "staff_profile", None)
        query = query.filter(store_code=profile.store.code if profile and profile.store else "")
    if open:
        query = query.filter(reviewed_at__isnull=True)
    return list(query[: max(1, min(limit, 1000))])


@router.get(
    "/sales/{sale_id}",
    response=SaleOut,
    summary="One posted sale",
    auth=access(scope=TokenScope.SALES_WRITE, capability=Capability.VIEW_SALES),
)
def get_sale(request, sale_id: str, store: str | None = None):
    """Sale ids are unique per store: a store's token and store staff read their own store's
    sale; HQ staff name the store when several stores posted the same id."""
    caller = request.auth
    query = Sale.objects.select_related("store").filter(sale_id=sale_id)
    if isinstance(caller, ApiToken):
        if caller.store_id:
            query = query.filter(store_id=caller.store_id)
    elif not sees_all_stores(caller):
        profile = getattr(caller, "staff_profile", None)
        query = query.filter(store_id=profile.store_id if profile else None)
    if store:
        query = query.filter(store__code=store)
    found = list(query[:10])
    if not found:
        raise NotFound(f"No sale {sale_id!r}" + (f" at {store}" if store else ""))
    if len(found) > 1:
        codes = ", ".join(sorted(s.store.code for s in found))
        raise DomainError(f"Stores {codes} each posted a sale {sale_id!r}; add ?store=CODE")
    sale = found[0]
    return {
        **{
            f: getattr(sale, f) for f in SaleOut.model_fields if f not in ("store", "register_code")
        },
        "store": sale.store.code,
        "register_code": sale.register,
    }
