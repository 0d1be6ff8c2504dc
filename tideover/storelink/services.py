"""Store agents at HQ: registration, heartbeats, each store's link state, heartbeat coverage and
the offline card policy.

States (``LinkState``), decided by :func:`state_of` from the last heartbeat and the clock:

- **silent**: not heard for STORELINK_SILENT_AFTER_SECONDS (or never): the agent itself may be
  down; someone should call the store.
- **offline**: not heard for STORELINK_OFFLINE_AFTER_SECONDS, or the agent says it is offline
  (a manager forced it): the store sells on its own and queues.
- **draining**: heard, and sending a backlog (the agent says so, or its oldest unsent sale is
  older than STORELINK_DRAINING_AFTER_SECONDS).
- **online**: heard, and its sales reach HQ as they happen.

Each change publishes ``storelink.store_state_changed`` (``store``, ``state``, ``previous``)
inside the transaction that records it. Heartbeats arrive when they do, but silence does not
arrive: the periodic job :func:`refresh_states` looks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tideover.core import events
from tideover.core.errors import DomainError
from tideover.core.models import Region, Store
from tideover.sales.limits import per_sale_limits
from tideover.storelink.models import (
    CardPolicy,
    HeartbeatMinute,
    LinkState,
    StateChange,
    StoreAgent,
)

STATE_CHANGED = "storelink.store_state_changed"
OFFLINE_MODES = {"offline", "forced_offline"}
QUEUE_CARRY = timedelta(hours=24)  # a store's last reported queue depth counts this long


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _time(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None or parsed.tzinfo is None:
        raise DomainError(f"{value!r} is not a time with a time zone, e.g. 2026-11-21T14:03:00Z")
    return parsed


def state_of(agent: StoreAgent, now: datetime) -> str:
    """The store's link state from what its agent last said and how long ago."""
    if agent.last_seen_at is None:
        return LinkState.SILENT
    quiet = (now - agent.last_seen_at).total_seconds()
    if quiet > settings.STORELINK_SILENT_AFTER_SECONDS:
        return LinkState.SILENT
    if quiet > settings.STORELINK_OFFLINE_AFTER_SECONDS or agent.mode in OFFLINE_MODES:
        return LinkState.OFFLINE
    backlog = agent.oldest_unsent_at is not None and (
        (now - agent.oldest_unsent_at).total_seconds() > settings.STORELINK_DRAINING_AFTER_SECONDS
    )
    if agent.mode == "draining" or (agent.queue_depth and backlog):
        return LinkState.DRAINING
    return LinkState.ONLINE


def _set_state(agent: StoreAgent, state: str, now: datetime) -> None:
    previous = agent.state
    if previous == state:
        return
    agent.state = state
    agent.state_since = now
    StoreAgent.objects.filter(pk=agent.pk).update(state=state, state_since=now)
    StateChange.objects.create(store=agent.store, state=state, previous=previous, at=now)
    events.publish(STATE_CHANGED, store=agent.store, state=state, previous=previous)


@dataclass
class Heartbeat:
    """What an agent reports every few seconds (the agent's ``heartbeat_body``)."""

    agent_id: str = ""
    version: str = ""
    mode: str = ""
    queue_depth: int = 0
    oldest_unsent_at: object = None
    offline_since: object = None
    last_sync_at: object = None
    card_exposure_cents: int = 0
    card_count: int = 0
    rejected: int = 0
    conflicts: int = 0
    quarantined: int = 0


def register_agent(store: Store, *, agent_id: str, version: str = "", at=None) -> StoreAgent:
    """Record (or re-record) the agent of a store; a new agent id replaces the old one."""
    now = at or timezone.now()
    with transaction.atomic():
        agent, created = StoreAgent.objects.select_for_update().get_or_create(
            store=store,
            defaults={"agent_id": agent_id[:64], "version": version[:32], "registered_at": now},
        )
        if not created and (agent.agent_id != agent_id or agent.version != version):
            agent.agent_id, agent.version, agent.registered_at = agent_id[:64], version[:32], now
            agent.save(update_fields=["agent_id", "version", "registered_at"])
    return agent


def record_heartbeat(store: Store, beat: Heartbeat, *, at=None) -> StoreAgent:
    """Record a heartbeat: the agent's figures, the minute it was heard in, the new state."""
    now = at or timezone.now()
    with transaction.atomic():
        agent = (
            StoreAgent.objects.select_for_update()
            .select_related("store")
            .filter(store=store)
            .first()
        )
        if agent is None:  # heartbeats register an agent that was never registered
            register_agent(
                store, agent_id=beat.agent_id or store.code, version=beat.version, at=now
            )
            agent = StoreAgent.objects.select_for_update().select_related("store").get(store=store)
        agent.last_seen_at = now
        agent.mode = beat.mode[:20]
        agent.queue_depth = max(0, int(beat.queue_depth))
        agent.oldest_unsent_at = _time(beat.oldest_unsent_at)
        agent.offline_since = _time(beat.offline_since)
        agent.last_sync_at = _time(beat.last_sync_at)
        agent.card_exposure_cents = max(0, int(beat.card_exposure_cents))
        agent.card_count = max(0, int(beat.card_count))
        agent.rejected = max(0, int(beat.rejected))
        agent.conflicts = max(0, int(beat.conflicts))
        agent.quarantined = max(0, int(beat.quarantined))
        if beat.version:
            agent.version = beat.version[:32]
        agent.save()
        HeartbeatMinute.objects.bulk_create(
            [HeartbeatMinute(minute=_minute(now), store=store, queue_depth=agent.queue_depth)],
            update_conflicts=True,
            unique_fields=["minute", "store"],
            update_fields=["queue_depth"],
        )
        _set_state(agent, state_of(agent, now), now)
    return agent


def record_heard(depths: dict[int, int | None], minute: datetime) -> int:
    """Stores heard from in ``minute`` (store pk -> the sales its agent still had queued; None:
    what its agent last reported), in one write, for heartbeat coverage and queue depth. A
    scenario replay plays its agents' heartbeats with it: a real agent heartbeats every few
    seconds (``record_heartbeat``), which for 200 replayed stores minute by minute would take
    longer than the day it replays."""
    unknown = [pk for pk, depth in depths.items() if depth is None]
    if unknown:
        reported = dict(
            StoreAgent.objects.filter(store_id__in=unknown).values_list("store_id", "queue_depth")
        )
        depths = {pk: reported.get(pk, 0) if d is None else d for pk, d in depths.items()}
    HeartbeatMinute.objects.bulk_create(
        [
            HeartbeatMinute(minute=_minute(minute), store_id=pk, queue_depth=max(0, depth))
            for pk, depth in depths.items()
        ],
        update_conflicts=True,
        unique_fields=["minute", "store"],
        update_fields=["queue_depth"],
    )
    return len(depths)


def refresh_states(now: datetime | None = None) -> int:
    """Move stores whose agents went quiet to offline or silent; returns how many changed."""
    now = now or timezone.now()
    changed = 0
    with transaction.atomic():
        for agent in StoreAgent.objects.select_for_update().select_related("store"):
            state = state_of(agent, now)
            if state != agent.state:
                _set_state(agent, state, now)
                changed += 1
    return changed


def heartbeat_coverage(since: datetime, until: datetime) -> list[tuple[datetime, float]]:
    """Per minute from ``since`` up to ``until``: the share (0..1) of active stores with an agent
    that were heard from in that minute. Empty when no active store has an agent."""
    agents = StoreAgent.objects.filter(store__is_active=True)
    expected = agents.count()
    if not expected:
        return []
    # Before the first agent registered nobody could have been heard: those minutes have no
    # coverage (unknown), not 0% (which would read as every store going dark at once).
    first = agents.aggregate(first=Min("registered_at"))["first"]
    start = max(_minute(since), _minute(first))
    heard = dict(
        HeartbeatMinute.objects.filter(
            minute__gte=start, minute__lt=until, store__is_active=True, store__agent__isnull=False
        )
        .values("minute")
        .annotate(stores=Count("store"))
        .values_list("minute", "stores")
    )
    series = []
    minute = start
    while minute < until:
        series.append((minute, min(1.0, heard.get(minute, 0) / expected)))
        minute += timedelta(minutes=1)
    return series


def queue_depth(since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """Per minute from ``since`` up to ``until``: the sales waiting in the offline queues of all
    active stores, each store counted at what its agent last reported (a store that cannot
    reach HQ keeps its last known depth: its queue is still there, only unseen). Empty when no
    active store has an agent; minutes before any agent was heard are left out."""
    agents = StoreAgent.objects.filter(store__is_active=True)
    if not agents.exists():
        return []
    start, end = _minute(since), until
    heard = HeartbeatMinute.objects.filter(store__is_active=True, store__agent__isnull=False)
    # Each store's last report before the window (within a day), so a queue that stopped
    # reporting keeps counting.
    last_before = (
        heard.filter(minute__lt=start, minute__gte=start - QUEUE_CARRY)
        .values("store_id")
        .annotate(last=Max("minute"))
    )
    depth: dict[int, int] = {}
    if last_before:
        pairs = {(row["store_id"], row["last"]) for row in last_before}
        for store_id, minute, queued in heard.filter(
            minute__in={m for _, m in pairs}, store_id__in={s for s, _ in pairs}
        ).values_list("store_id", "minute", "queue_depth"):
            if (store_id, minute) in pairs:
                depth[store_id] = queued
    changes: dict[datetime, list[tuple[int, int]]] = {}
    for store_id, minute, queued in heard.filter(minute__gte=start, minute__lt=end).values_list(
        "store_id", "minute", "queue_depth"
    ):
        changes.setdefault(minute, []).append((store_id, queued))
    series = []
    minute = start
    while minute < end:
        for store_id, queued in changes.get(minute, ()):
            depth[store_id] = queued
        if depth or minute in changes:
            series.append((minute, sum(depth.values())))
        minute += timedelta(minutes=1)
    return series


def recent_changes(*, region: Region | None = None, stores=None, limit: int = 50):
    """The latest link state changes, newest first."""
    query = StateChange.objects.select_related("store")
    if region is not None:
        query = query.filter(store__region=region)
    if stores is not None:
        query = query.filter(store__in=[s.pk for s in stores])
    return list(query[:limit])


def store_links(
    *, region: Region | None = None, stores=None, attention: bool = False
) -> list[dict]:
    """Every store with its link state (None for a store that has no agent yet); with
    ``attention``, only stores whose agent holds sales waiting for staff (rejected, conflicting
    or quarantined)."""
    query = Store.objects.filter(is_active=True).select_related("region", "agent")
    if region is not None:
        query = query.filter(region=region)
    if stores is not None:
        query = query.filter(pk__in=[s.pk for s in stores])
    if attention:
        query = query.filter(
            Q(agent__rejected__gt=0) | Q(agent__conflicts__gt=0) | Q(agent__quarantined__gt=0)
        )
    now = timezone.now()
    rows = []
    for store in query.order_by("code"):
        agent = getattr(store, "agent", None)
        rows.append(
            {
                "store": store,
                "agent": agent,
                "state": state_of(agent, now) if agent else None,
            }
        )
    return rows


# --- offline card policy ------------------------------------------------------------------
def default_policy() -> dict:
    return {
        "per_sale_limit_cents": settings.STORELINK_CARD_PER_SALE_CENTS,
        "total_limit_cents": settings.STORELINK_CARD_TOTAL_CENTS,
        "max_count": settings.STORELINK_CARD_MAX_COUNT,
        "max_age_minutes": settings.STORELINK_CARD_MAX_AGE_MINUTES,
    }


def card_policy_for(store: Store) -> tuple[dict, str]:
    """The policy that applies to a store and where it comes from (store, region, chain)."""
    own = CardPolicy.objects.filter(store=store).first()
    if own is not None:
        return own.as_dict(), "store"
    regional = CardPolicy.objects.filter(region_id=store.region_id).first()
    if regional is not None:
        return regional.as_dict(), "region"
    return default_policy(), "chain"


# The most one offline card sale may be allowed ($1,000,000), and the most a store may have
# taken on offline cards ($100,000,000): the page, the API and the columns hold these.
MAX_PER_SALE_CENTS = 100_000_000
MAX_EXPOSURE_CENTS = 10_000_000_000


def set_card_policy(
    *, store: Store | None = None, region: Region | None = None, user=None, **limits: int
) -> CardPolicy:
    """Set the offline card limits of a store or a region (agents pick them up within a
    heartbeat)."""
    if (store is None) == (region is None):
        raise DomainError("Set a policy for one store or one region")
    wanted = ("per_sale_limit_cents", "total_limit_cents", "max_count", "max_age_minutes")
    missing = [name for name in wanted if limits.get(name) is None]
    if missing:
        raise DomainError(f"Missing: {', '.join(missing)}")
    values = {name: int(limits[name]) for name in wanted}
    if any(value < 0 for value in values.values()):
        raise DomainError("Limits cannot be negative (0 refuses every offline card payment)")
    if values["per_sale_limit_cents"] > MAX_PER_SALE_CENTS:
        raise DomainError(
            f"The limit per sale can be at most {MAX_PER_SALE_CENTS // 100:,} dollars",
            field="per_sale_limit_cents",
        )
    if values["total_limit_cents"] > MAX_EXPOSURE_CENTS:
        raise DomainError(
            f"The store's total can be at most {MAX_EXPOSURE_CENTS // 100:,} dollars",
            field="total_limit_cents",
        )
    if values["per_sale_limit_cents"] > values["total_limit_cents"]:
        raise DomainError(
            "The limit per sale cannot be above the store's total", field="per_sale_limit_cents"
        )
    with transaction.atomic():
        policy, _ = CardPolicy.objects.update_or_create(
            store=store,
            region=region,
            defaults={**values, "updated_at": timezone.now(), "updated_by": user},
        )
    return policy


def clear_card_policy(*, store: Store | None = None, region: Region | None = None) -> int:
    """Remove a store's or region's own policy (the region's or the chain's then applies)."""
    if (store is None) == (region is None):
        raise DomainError("Clear the policy of one store or one region")
    deleted, _ = CardPolicy.objects.filter(store=store, region=region).delete()
    return deleted


def loyalty_program(now: datetime | None = None) -> dict:
    """What agents need to estimate points offline as HQ will post them (when the loyalty app
    is installed): base rate, tier multipliers, accrual rules and promotions around now, and
    the per-sale cap and review threshold."""
    if not apps.is_installed("tideover.loyalty"):
        return {}
    from tideover.loyalty.accrual import rules_for_agents
    from tideover.loyalty.config import program

    current = program()
    return {
        "points_per_dollar": current.points_per_dollar,
        "reward_threshold": current.reward_threshold,
        "tier_multipliers": current.tier_multipliers,
        "sale_points_cap": current.sale_points_cap,
        "sale_points_review": current.sale_points_review,
        **rules_for_agents(now or timezone.now()),
    }


def agent_settings(store: Store) -> dict:
    """HQ's answer to a registration or heartbeat: what the agent should cache."""
    policy, source = card_policy_for(store)
    return {
        "store": store.code,
        "card_policy": policy,
        "card_policy_source": source,
        "program": loyalty_program(),
        "sales_limits": per_sale_limits().as_dict(),
    }
