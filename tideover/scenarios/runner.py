"""Replay a scenario file through the real parts, minute by minute at the scenario's clock.

The runner plays the world (tills, shoppers, social media, the people on shift) and lets the
product do its job: sales go through the sales API with store-bound tokens, incidents through the
incident services, messages through the outbox, and whichever other capabilities are installed
(detection, store capture, goodwill) through their own services. It never writes their tables.
"""

from __future__ import annotations

import json
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tideover.core.models import Component, Store, TokenScope
from tideover.core.services import create_api_token
from tideover.incidents import services as incidents
from tideover.incidents.models import Incident, Severity
from tideover.scenarios import scorecard
from tideover.scenarios.models import ScenarioRun
from tideover.scenarios.schema import Scenario, StoreSelection
from tideover.scenarios.traffic import StoreSale, Tills, make_sales, peak_card_exposure

WEEKDAY_INDEX = {
    name: i
    for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
BATCH = 500


def start_time(scenario: Scenario, now: datetime | None = None) -> datetime:
    """The scenario's start: its exact ``at``, or the latest weekday+time at least a day old."""
    if scenario.start.at is not None:
        return scenario.start.at
    tz = zoneinfo.ZoneInfo(scenario.chain.time_zone)
    local = (now or timezone.now()).astimezone(tz) - timedelta(days=1)
    hour, minute = (int(x) for x in scenario.start.time.split(":"))
    if scenario.start.month_end:
        day = local.replace(day=1, hour=hour, minute=minute, second=0, microsecond=0)
        last = (day + timedelta(days=32)).replace(day=1) - timedelta(days=1)  # this month's end
        if last > local:
            last = day - timedelta(days=1)  # the previous month's end
        return last
    back = (local.weekday() - WEEKDAY_INDEX[scenario.start.weekday]) % 7
    day = (local - timedelta(days=back)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if day > local:
        day -= timedelta(days=7)
    return day


def select_stores(selection: StoreSelection, stores: list[Store]) -> list[Store]:
    if selection.all:
        return stores
    if selection.share is not None:
        return stores[: round(len(stores) * selection.share)]
    if selection.regions:
        wanted = {r.lower() for r in selection.regions}
        return [s for s in stores if s.region and s.region.slug.lower() in wanted]
    wanted = {c.upper() for c in selection.codes}
    return [s for s in stores if s.code.upper() in wanted]


def prepare_chain(scenario: Scenario) -> dict:
    """Build the scenario's chain (idempotent) unless it runs on the current database."""
    from tideover.demo.seed import seed_all

    chain = scenario.chain
    if not chain.use_current:
        seed_all(chain.stores)
        if chain.members:
            from tideover.loyalty.demo import seed_members

            seed_members(chain.members, list(Store.objects.order_by("code")))
    from django.apps import apps

    members = 0
    if apps.is_installed("tideover.loyalty"):
        from tideover.loyalty.models import Member

        members = Member.objects.count()
    return {"stores": Store.objects.count(), "members": members}


class SalesPoster:
    """Posts sales through the real API, one store-bound token per store, tallying HQ's answers."""

    def __init__(self):
        self.client = Client(HTTP_HOST="127.0.0.1")
        self.tokens: dict[str, str] = {}
        self.counts: Counter = Counter()

    def _token(self, store: Store) -> str:
        if store.code not in self.tokens:
            _, secret = create_api_token(
                name=f"scenario agent {store.code}", scopes=[TokenScope.SALES_WRITE], store=store
            )
            self.tokens[store.code] = secret
        return self.tokens[store.code]

    def post(self, store: Store, sales: list[dict]) -> None:
        for begin in range(0, len(sales), BATCH):
            response = self.client.post(
                "/api/v1/sales:batch",
                data=json.dumps({"sales": sales[begin : begin + BATCH]}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {self._token(store)}",
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"the sales API refused a batch from {store.code}: "
                    f"{response.status_code} {response.content[:300]!r}"
                )
            for kind in ("posted", "duplicate", "conflict", "rejected"):
                self.counts[kind] += response.json()[kind]


@dataclass
class RunState:
    start: datetime
    incident: Incident | None = None
    declared_at: datetime | None = None
    alert_at: datetime | None = None
    last_update_at: datetime | None = None
    resolved: bool = False
    accepted: list[str] = field(default_factory=list)
    accepted_offline: list[str] = field(default_factory=list)
    peak_card_exposure_cents: int = 0
    log: list[str] = field(default_factory=list)


class ScenarioRunner:
    """Runs one scenario against the current database; ``tick`` reports progress."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        now: datetime | None = None,
        tick: Callable[[str, int, int], None] | None = None,
        source: str = "",
    ):
        self.scenario = scenario
        self.source = source
        # Minutes are counted in UTC: in the chain's zone a day can have 23 or 25 hours.
        self.state = RunState(start=start_time(scenario, now).astimezone(UTC))
        self.tick = tick or (lambda label, done, total: None)
        self.poster = SalesPoster()
        # How due sales reach HQ: (store, payloads). The demo routes a sample of stores through
        # real store agent processes instead (tideover.storelink.demo).
        self.forward: Callable[[Store, list[dict]], None] = self.poster.post
        User = get_user_model()
        staff = scenario.staff
        self.commander = User.objects.filter(username=staff.commander).first()
        self.comms = User.objects.filter(username=staff.comms_lead).first()

    # -- the world ---------------------------------------------------------------------------
    def _stores(self) -> list[Store]:
        return list(Store.objects.select_related("region").order_by("code"))

    def prepare(self) -> Tills:
        from tideover.core.models import Register

        stores = self._stores()
        if not stores:
            raise RuntimeError("the chain has no stores: seed it or set chain.use_current: false")
        self.stores = {s.code: s for s in stores}
        self.affected = {
            i: {s.code for s in select_stores(f.stores, stores)}
            for i, f in enumerate(self.scenario.failures)
        }
        registers: dict[int, list[str]] = {}
        for store_id, code in Register.objects.values_list("store_id", "code"):
            registers.setdefault(store_id, []).append(code)
        member_ids = self._member_ids()
        return make_sales(
            self.scenario,
            start=self.state.start,
            stores=[
                (s.code, registers.get(s.pk) or ["R1"], zoneinfo.ZoneInfo(s.time_zone))
                for s in stores
            ],
            affected=self.affected,
            member_ids=member_ids,
        )

    def _member_ids(self) -> list[str]:
        from django.apps import apps

        if not apps.is_installed("tideover.loyalty"):
            return []
        from tideover.loyalty.models import Member

        return list(Member.objects.order_by("pk").values_list("loyalty_id", flat=True)[:20_000])

    def _accept(self, sales: list[StoreSale]) -> None:
        """The registers' record: every sale they were told was accepted (declines too are
        recorded sales; they carry no money)."""
        for sale in sales:
            self.state.accepted.append(sale.payload["sale_id"])
            if sale.offline:
                self.state.accepted_offline.append(sale.payload["sale_id"])

    def _post_due(self, tills: Tills, until: datetime) -> None:
        due = tills.due(until)
        by_store: dict[str, list[dict]] = {}
        for sale in due:
            by_store.setdefault(sale.store_code, []).append(sale.payload)
        for code, payloads in by_store.items():
            self.forward(self.stores[code], payloads)

    # -- the people --------------------------------------------------------------------------
    def _declare(self, at: datetime) -> None:
        scenario = self.scenario
        components = {c.slug: c for c in Component.objects.all()}
        affected_codes = set().union(*self.affected.values())
        chosen = {}
        for failure in scenario.failures:
            if failure.component not in components:
                raise RuntimeError(f"no component {failure.component!r} in this chain")
            chosen[components[failure.component]] = failure.status.value
        self.state.incident = incidents.declare_incident(
            title=scenario.staff.title,
            severity=Severity.objects.get(level=scenario.staff.severity),
            components=chosen,
            stores=[self.stores[c] for c in sorted(affected_codes)],
            message=scenario.staff.first_update,
            commander=self.commander,
            comms_lead=self.comms,
            started_at=self.state.start + min(f.at for f in scenario.failures),
            detected_at=self.state.alert_at or at,
            actor=incidents.Actor.of(self.commander) if self.commander else incidents.SYSTEM,
            at=at,
        )
        self.state.declared_at = self.state.last_update_at = at

    def _maybe_update(self, at: datetime, offset: timedelta) -> None:
        staff = self.scenario.staff
        scripted = [
            u for u in staff.updates if u.at <= offset and u.at > offset - timedelta(minutes=1)
        ]
        due = at - self.state.last_update_at >= staff.update_every
        if not scripted and not due:
            return
        if scripted:
            text, state = scripted[0].text, scripted[0].state
        else:
            minutes = int(staff.update_every.total_seconds() // 60)
            text = (
                f"We are still working on this: {staff.title}. Stores remain open. "
                f"Next update within {minutes} minutes."
            )
            state = None
        # Comms posts the updates; one that moves the state is the commander's (the role
        # table says comms may not change state, whichever form carries it).
        person = self.commander if state else self.comms
        actor = incidents.Actor.of(person) if person else incidents.SYSTEM
        incidents.post_public_update(self.state.incident, text, state=state, actor=actor, at=at)
        self.state.last_update_at = at

    def _resolve(self, at: datetime) -> None:
        actor = incidents.Actor.of(self.commander) if self.commander else incidents.SYSTEM
        incidents.resolve_incident(
            self.state.incident, self.scenario.staff.resolution, actor=actor, at=at
        )
        self.state.resolved = True

    # -- the replay --------------------------------------------------------------------------
    def _deadline_world(self, tills: Tills) -> None:
        """Members with points due at the end of the day shop first (see scenarios.deadline)."""
        from tideover.scenarios import deadline

        key = f"{self.scenario.seed}:{self.state.start:%Y%m%d%H%M}"
        self.deadline_members = deadline.give_expiring_points(
            self.scenario.loyalty, self.state.start, key
        )
        waiting = list(self.deadline_members)
        by_time = sorted(tills.sales, key=lambda s: s.payload["occurred_at"])
        for sale in by_time:
            if not waiting:
                break
            if "member_id" in sale.payload and sale.payload["status"] == "completed":
                sale.payload["member_id"] = waiting.pop(0)
        expiry_at = timezone.localtime(self.state.start).replace(
            hour=0, minute=5, second=0, microsecond=0
        ) + timedelta(days=1)
        self.world_steps.append(
            (self.state.start, "expiry reminders", lambda: deadline.remind(self.state.start))
        )
        self.world_steps.append(
            (expiry_at, "points expiry run", lambda: deadline.expire_after(self.state.start))
        )

    def run(self) -> dict:
        """Replay the whole day; return the scorecard."""
        tills = self.prepare()
        scenario, state = self.scenario, self.state
        self.world_steps: list[tuple[datetime, str, Callable]] = []
        self.deadline_members: list[str] = []
        if scenario.loyalty is not None:
            self._deadline_world(tills)
        self._accept(tills.sales)
        state.peak_card_exposure_cents = peak_card_exposure(tills.sales)
        zone = zoneinfo.ZoneInfo(scenario.chain.time_zone)
        resolve_after = scenario.returns_after + timedelta(minutes=2)
        total = int((scenario.returns_after + timedelta(minutes=31)).total_seconds() // 60)
        for minute in range(total + 1):
            offset = timedelta(minutes=minute)
            at = state.start + offset
            for _when, _label, step in [w for w in self.world_steps if w[0] <= at]:
                step()
            self.world_steps = [w for w in self.world_steps if w[0] > at]
            self._post_due(tills, at)
            if state.incident is None and offset >= scenario.staff.declare_at_latest:
                self._declare(at)
            elif state.incident is not None and not state.resolved:
                if offset >= resolve_after:
                    self._resolve(at)
                else:
                    self._maybe_update(at, offset)
            self.tick(f"{at.astimezone(zone):%a %H:%M}", minute, total)
        self._post_due(tills, state.start + timedelta(days=2))
        card = self.scorecard()
        ScenarioRun.objects.create(
            name=scenario.name, file=self.source, incident=state.incident, scorecard=card
        )
        return card

    def scorecard(self) -> dict:
        state = self.state
        incident = state.incident
        incident.refresh_from_db()
        card = {
            "incident": scorecard.incident_section(incident),
            "sales": scorecard.sales_section(state.accepted, offline_ids=state.accepted_offline),
            "peak_card_exposure_cents": state.peak_card_exposure_cents,
            "messages": scorecard.outbox_section(incident),
            "api_answers": dict(self.poster.counts),
        }
        if self.scenario.loyalty is not None:
            from tideover.scenarios.deadline import deadline_section

            card["loyalty_deadline"] = deadline_section(self.deadline_members, state.start)
        return card
