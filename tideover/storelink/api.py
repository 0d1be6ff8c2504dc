"""/api/v1/storelink/...: agents register and send heartbeats (store tokens); staff read each
store's link state and set the offline card policy."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from tideover.core.api_auth import access, actor_user
from tideover.core.errors import NotFound
from tideover.core.models import ApiToken, Region, Store, TokenScope
from tideover.core.roles import Capability, sees_all_stores
from tideover.core.schemas import Count, InputSchema, Moment
from tideover.core.services import store_by_code
from tideover.storelink import services
from tideover.storelink.services import MAX_EXPOSURE_CENTS, MAX_PER_SALE_CENTS

PREFIX = "/storelink"
router = Router(tags=["store agents"])


# Agents post with their store's token; people manage policies in the console or API.
AGENT = {"scope": TokenScope.HEARTBEATS_WRITE, "capability": None}
POLICY = {"scope": None, "capability": Capability.MANAGE_CARD_POLICY}


class RegisterIn(InputSchema):
    store: str = Field(..., max_length=20)
    agent_id: str = Field(..., min_length=1, max_length=64)
    version: str = Field("", max_length=32)


class HeartbeatIn(InputSchema):
    store: str = Field(..., max_length=20)
    agent_id: str = Field("", max_length=64)
    version: str = Field("", max_length=32)
    mode: Literal["online", "draining", "offline", "forced_offline"]
    queue_depth: Count = 0
    oldest_unsent_at: Moment | None = None
    offline_since: Moment | None = None
    last_sync_at: Moment | None = None
    card_exposure_cents: int = Field(0, ge=0, le=MAX_EXPOSURE_CENTS, strict=True)
    card_count: Count = 0
    rejected: Count = Field(0, description="Sales HQ rejected, kept at the store for staff")
    conflicts: Count = Field(0, description="Sales HQ refused as conflicts, kept for staff")
    quarantined: Count = Field(
        0, description="Sales HQ failed on every time, set aside and retried now and then"
    )


class PolicyOut(Schema):
    per_sale_limit_cents: int
    total_limit_cents: int
    max_count: int
    max_age_minutes: int


class AgentSettingsOut(Schema):
    store: str
    card_policy: PolicyOut
    card_policy_source: str
    program: dict
    sales_limits: dict = Field(
        ..., description="HQ's per-sale limits (max_lines, max_line_quantity, max_amount_cents)"
    )


class StoreLinkOut(Schema):
    store: str
    region: str
    state: str | None = Field(..., description="online, draining, offline, silent; null: no agent")
    mode: str | None
    last_seen_at: datetime | None
    queue_depth: int
    oldest_unsent_at: datetime | None
    offline_since: datetime | None
    card_exposure_cents: int
    version: str | None
    rejected: int = Field(0, description="Sales HQ rejected, waiting for staff at the store")
    conflicts: int = Field(0, description="Sales refused as conflicts, waiting for staff")
    quarantined: int = Field(0, description="Sales HQ fails on every time, set aside")
    needs_attention: int = Field(
        0, description="rejected + conflicts + quarantined: sales staff must look at"
    )


class PolicyIn(InputSchema):
    per_sale_limit_cents: int = Field(..., ge=0, le=MAX_PER_SALE_CENTS, strict=True)
    total_limit_cents: int = Field(..., ge=0, le=MAX_EXPOSURE_CENTS, strict=True)
    max_count: int = Field(..., ge=0, le=1_000_000, strict=True)
    max_age_minutes: int = Field(..., ge=0, le=100_000, strict=True)


def _agent_store(request, code: str) -> Store:
    caller = request.auth
    if not isinstance(caller, ApiToken) or not caller.store_id:
        raise HttpError(403, "Use the store's own token (tideover createtoken --store CODE)")
    if caller.store.code != code:
        raise HttpError(403, f"This token acts for store {caller.store.code} only, not {code}")
    return caller.store


@router.post(
    "/agents",
    response=AgentSettingsOut,
    summary="An agent registers at start",
    auth=access(**AGENT),
)
def register(request, payload: RegisterIn):
    store = _agent_store(request, payload.store)
    services.register_agent(store, agent_id=payload.agent_id, version=payload.version)
    return services.agent_settings(store)


@router.post(
    "/heartbeats",
    response=AgentSettingsOut,
    summary="An agent's heartbeat; the answer carries its card policy",
    auth=access(**AGENT),
)
def heartbeat(request, payload: HeartbeatIn):
    store = _agent_store(request, payload.store)
    beat = services.Heartbeat(**payload.model_dump(exclude={"store"}))
    services.record_heartbeat(store, beat)
    return services.agent_settings(store)


@router.get(
    "/stores",
    response=list[StoreLinkOut],
    summary="Every store's link state",
    auth=access(capability=Capability.VIEW_STORE_LINKS),
)
def stores(request, region: str = "", state: str = "", attention: bool = False):
    """``attention=true``: only stores holding sales that wait for staff."""
    caller = request.auth
    region_obj = None
    if region:
        region_obj = Region.objects.filter(slug=region).first()
        if region_obj is None:
            raise NotFound(f"No region {region!r}")
    scope = None
    if not sees_all_stores(caller):
        profile = getattr(caller, "staff_profile", None)
        scope = [profile.store] if profile and profile.store else []
    rows = services.store_links(region=region_obj, stores=scope, attention=attention)
    out = []
    for row in rows:
        agent = row["agent"]
        if state and row["state"] != state:
            continue
        out.append(
            {
                "store": row["store"].code,
                "region": row["store"].region.slug,
                "state": row["state"],
                "mode": agent.mode if agent else None,
                "last_seen_at": agent.last_seen_at if agent else None,
                "queue_depth": agent.queue_depth if agent else 0,
                "oldest_unsent_at": agent.oldest_unsent_at if agent else None,
                "offline_since": agent.offline_since if agent else None,
                "card_exposure_cents": agent.card_exposure_cents if agent else 0,
                "version": agent.version if agent else None,
                "rejected": agent.rejected if agent else 0,
                "conflicts": agent.conflicts if agent else 0,
                "quarantined": agent.quarantined if agent else 0,
                "needs_attention": agent.needs_attention if agent else 0,
            }
        )
    return out


@router.put(
    "/policies/stores/{code}",
    response=PolicyOut,
    summary="Set a store's offline card policy",
    auth=access(**POLICY),
)
def set_store_policy(request, code: str, payload: PolicyIn):
    store = store_by_code(code)
    if store is None:
        raise NotFound(f"No store with the code {code}")
    return services.set_card_policy(
        store=store, user=actor_user(request), **payload.model_dump()
    ).as_dict()


@router.put(
    "/policies/regions/{slug}",
    response=PolicyOut,
    summary="Set a region's offline card policy",
    auth=access(**POLICY),
)
def set_region_policy(request, slug: str, payload: PolicyIn):
    region = Region.objects.filter(slug=slug).first()
    if region is None:
        raise NotFound(f"No region with the slug {slug}")
    return services.set_card_policy(
        region=region, user=actor_user(request), **payload.model_dump()
    ).as_dict()
