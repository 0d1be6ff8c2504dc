"""Replay a scenario file through the real parts, minute by minute at the scenario's clock.

The runner plays the world (tills, shoppers, social media, store lines going down) and lets the
product do its job: every store has a real store agent (``fleet``) that accepts the registers'
sales into its own journal and forwards them to HQ's sales API when its line is up; the people
on shift (``people``) act through the incident services; messages go through the outbox; and
whichever other capabilities are installed (detection, store capture, goodwill) are used through
their own services. It never writes another app's tables.
"""

from __future__ import annotations

import logging
import tempfile
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tideover.core.models import Store
from tideover.scenarios import scorecard
from tideover.scenarios.chain import select_stores, start_time
from tideover.scenarios.clock import ReplayClock
from tideover.scenarios.fleet import Fleet
from tideover.scenarios.laps import Laps
from tideover.scenarios.models import ScenarioRun
from tideover.scenarios.people import Shift
from tideover.scenarios.schema import FailureKind, Scenario
from tideover.scenarios.scorecard import refresh_scorecard
from tideover.scenarios.traffic import Tills, active, line_changes, make_sales

# Channels delivered while the replay's clock runs. A webhook receiver checks the signature's
# timestamp against its own (real) clock and would refuse one from the scenario's day, so webhook
# messages wait until the replay ends and the clock is real again.
DELIVERED_ON_THE_CLOCK = ("email", "sms", "chat")
# How often the replay hands the registers' sales to their agent (in one batch per store) and
# lets agents whose line is up forward what they hold. Each store-tick costs a few synced
# commits (the agent's durability promise); half an hour keeps a 200-store day replayable in
# about a minute. The sales keep the minute they were made either way.
TICK = timedelta(minutes=30)
SIGN_UPS_AFTER = timedelta(minutes=30)  # associates have the sign-up form out by then
CUT_OFF = (FailureKind.REGISTERS_LOSE_HQ, FailureKind.LOYALTY_POSTING_DELAYED)


class ScenarioRunner:
    """Runs one scenario against the current database; ``tick`` reports progress."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        now: datetime | None = None,
        tick: Callable[[str, int, int], None] | None = None,
        source: str = "",
        agents_dir: Path | None = None,
        deliver: bool = False,
    ):
        self.scenario = scenario
        # The runner plays the worker too: queued messages go out every tick at the scenario's
        # time. Only when the caller has pointed the channels at local sinks (``tideover
        # scenario run`` and ``make demo`` do): a rehearsal never reaches real people.
        self.deliver = deliver
        self.real_now = now or timezone.now()  # before the replay's clock moves
        self.source = source
        self.base_dir = Path(source).parent if source else Path.cwd()  # for social.file
        # Minutes are counted in UTC: in the chain's zone a day can have 23 or 25 hours.
        self.start = start_time(scenario, self.real_now).astimezone(UTC)
        self.tick = tick or (lambda label, done, total: None)
        self.agents_dir = agents_dir
        self.shift = Shift(scenario)
        self.world_steps: list[tuple[datetime, str, Callable]] = []
        self.deadline_members: list[str] = []
        self.alert_at: datetime | None = None
        # Stores whose agent runs as its own process (the demo's sample, tideover.storelink.demo).
        self.processes = None

    # -- the world ---------------------------------------------------------------------------
    def prepare(self) -> Tills:
        from tideover.core.models import Register

        stores = list(Store.objects.select_related("region").order_by("code"))
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
        return make_sales(
            self.scenario,
            start=self.start,
            stores=[
                (s.code, registers.get(s.pk) or ["R1"], zoneinfo.ZoneInfo(s.time_zone))
                for s in stores
            ],
            affected=self.affected,
            member_ids=self._member_ids(),
        )

    def _member_ids(self) -> list[str]:
        from django.apps import apps

        if not apps.is_installed("tideover.loyalty"):
            return []
        from tideover.loyalty.models import Member

        return list(Member.objects.order_by("pk").values_list("loyalty_id", flat=True)[:20_000])

    def _line_up(self, code: str, offset: timedelta) -> bool:
        """Whether the store's agent can reach HQ's sales API at ``offset``."""
        return not any(
            f.kind in CUT_OFF for f in active(self.scenario.failures, self.affected, code, offset)
        )

    def _deadline_world(self, tills: Tills) -> None:
        """Members with points due at the end of the day shop first (see scenarios.deadline)."""
        from tideover.scenarios import deadline

        key = f"{self.scenario.seed}:{self.start:%Y%m%d%H%M}"
        self.deadline_members = deadline.give_expiring_points(
            self.scenario.loyalty, self.start, key
        )
        waiting = list(self.deadline_members)
        for sale in tills.sales:  # in time order
            if not waiting:
                break
            if "member_id" in sale.payload and sale.payload["status"] == "completed":
                sale.payload["member_id"] = waiting.pop(0)
        expiry_at = timezone.localtime(self.start).replace(
            hour=0, minute=5, second=0, microsecond=0
        ) + timedelta(days=1)
        self.world_steps.append(
            (self.start, "expiry reminders", lambda: deadline.remind(self.start))
        )
        self.world_steps.append(
            (expiry_at, "points expiry run", lambda: deadline.expire_after(self.start))
        )

    def _lines(self, fleet: Fleet, offset: timedelta) -> None:
        """Cut or restore each store's line as the failures say; an agent whose line comes back
        says so at once (its heartbeat) and starts draining."""
        fleet.open(self.stores)  # every store's agent, from the first minute
        for code in self.stores:
            if fleet.set_link(code, self._line_up(code, offset)):
                fleet.heartbeat(code)
                fleet.forward(code)

    def _stores_tick(self, fleet: Fleet, tills: Tills, at: datetime, *, before=False) -> None:
        """The registers hand over their sales made by ``at`` (``before``: made before it),
        and every agent whose line is up forwards what it holds."""
        for code, sales in tills.rung_up(at, before=before).items():
            fleet.ring_up(code, sales)
        fleet.measure_exposure()
        for code in self.stores:
            fleet.forward(code)

    # -- the replay --------------------------------------------------------------------------
    def run(self) -> dict:
        """Replay the whole day at its own clock (``scenarios.clock``); return the scorecard."""
        self.laps = Laps()
        tills = self.tills = self.prepare()
        self.laps.lap("sales made")
        agent_log = logging.getLogger("tideover.agent")
        level = agent_log.level
        agent_log.setLevel(logging.ERROR)  # 150 agents saying "HQ not reachable" is the scenario
        with (
            tempfile.TemporaryDirectory(
                prefix="scenario-agents-", dir=self.agents_dir or settings.DATA_DIR
            ) as agents,
            ReplayClock(self.start - timedelta(minutes=5)) as self.clock,
        ):
            self._set_card_policy()
            try:
                with Fleet(self.stores, Path(agents), self.processes) as fleet:
                    card = self._run(fleet, tills)
            finally:
                agent_log.setLevel(level)
        self.laps.lap("agents closed")
        # Made once the clock is real again: ran_at says when the replay ran, not a minute of
        # the replayed day.
        ScenarioRun.objects.create(
            name=self.scenario.name, file=self.source, incident=self.shift.incident, scorecard=card
        )
        self._deliver(on_the_clock=False)
        self.laps.lap("webhooks")
        return refresh_scorecard(card)

    def _set_card_policy(self) -> None:
        """The scenario's offline card limits for every region, through storelink's service
        (each agent picks them up when it registers)."""
        from django.apps import apps

        if self.scenario.card_policy is None or not apps.is_installed("tideover.storelink"):
            return
        from tideover.core.models import Region
        from tideover.storelink.services import set_card_policy

        for region in Region.objects.filter(stores__in=list(self.stores.values())).distinct():
            set_card_policy(region=region, **self.scenario.card_policy.model_dump())

    def _run(self, fleet: Fleet, tills: Tills) -> dict:
        scenario, shift = self.scenario, self.shift
        if scenario.loyalty is not None:
            self._deadline_world(tills)
        self._start_watch()
        self._stores_report()
        self._stores_work_the_plan()
        self.laps.lap("detectors warmed up")
        zone = zoneinfo.ZoneInfo(scenario.chain.time_zone)
        first_failure = self.start + min(f.at for f in scenario.failures)
        changes = line_changes(scenario.failures)
        resolve_after = scenario.returns_after + timedelta(minutes=2)
        total = int((scenario.returns_after + timedelta(minutes=31)) / timedelta(minutes=1))
        for minute in range(total + 1):
            offset = timedelta(minutes=minute)
            at = self.start + offset
            self.clock.at(at)
            for _when, _label, step in [w for w in self.world_steps if w[0] <= at]:
                step()
            self.world_steps = [w for w in self.world_steps if w[0] > at]
            if offset in changes:
                # The registers hand over every sale made before a line changes: one made
                # while the line was up must not reach an agent after it is cut (and count as
                # queued offline, the first sign of a failure that had not started), nor one
                # made while cut reach it after the line is back.
                self._stores_tick(fleet, tills, self.start + changes[offset], before=True)
            self._lines(fleet, offset)
            fleet.heard(at)
            if offset % TICK == timedelta(0):
                self._stores_tick(fleet, tills, at)
                self._deliver()
            if self.watch is not None:
                self.watch.report_checkouts(at)  # the web shop reports every minute
            if shift.incident is None:
                self._watch_and_declare(at, first_failure)
            elif not shift.resolved:
                if offset >= resolve_after:
                    shift.resolve(at)
                else:
                    shift.keep_updating(at, offset)
                    if at == shift.declared_at + SIGN_UPS_AFTER:
                        self._sign_ups()
            self.tick(f"{at.astimezone(zone):%a %H:%M}", minute, total)
        self.laps.lap("the day, minute by minute")
        # Afterwards every line is up: the agents drain whatever they still hold, the goodwill
        # goes out, the stores sell until the day's last sale, and customers come back.
        self._lines(fleet, scenario.returns_after + timedelta(days=1))
        self._stores_tick(fleet, tills, at)
        self._deliver()
        self.laps.lap("last drain")
        self._make_it_right()
        self.laps.lap("goodwill")
        self._rest_of_the_day(fleet, tills, at)
        for code in self.stores:
            fleet.heartbeat(code)
        self.fleet_tally = fleet.tally
        self.laps.lap("rest of the day")
        self._come_back()
        self.laps.lap("customers come back")
        card = self.scorecard()
        self.laps.lap("scorecard")
        return card

    def _rest_of_the_day(self, fleet: Fleet, tills: Tills, at: datetime) -> None:
        """The sales made after the replay's last minute, half an hour at a time on the clock."""
        while tills.remaining:
            at += TICK
            self.clock.at(at)
            self._stores_tick(fleet, tills, at)
            self._deliver()

    def _come_back(self) -> None:
        """Over the following days some customers use their goodwill code at a till."""
        if not self._recovery_installed() or self.scenario.recovery is None:
            return
        from tideover.scenarios.recover import come_back

        come_back(
            self.shift.incident,
            self.scenario.recovery,
            self.scenario.seed,
            self.real_now,
            self.clock,
            self._deliver,
        )
        self._deliver()

    def _deliver(self, *, on_the_clock: bool = True) -> None:
        """What a worker would have sent by now, sent now (to the caller's local sinks)."""
        if not self.deliver:
            return
        from tideover.notifications.outbox import drain

        drain(max_seconds=30, channels=DELIVERED_ON_THE_CLOCK if on_the_clock else None)

    def _recovery_installed(self) -> bool:
        from django.apps import apps

        incident = self.shift.incident
        return (
            apps.is_installed("tideover.recovery")
            and incident is not None
            and not incident.is_drill
        )

    def _sign_ups(self) -> None:
        """Half an hour into the incident associates are signing shoppers up in every
        affected store."""
        if not self._recovery_installed() or not self.scenario.staff.signups_per_store:
            return
        from tideover.scenarios.recover import sign_up_shoppers

        stores = [self.stores[c] for c in sorted(set().union(*self.affected.values()))]
        sign_up_shoppers(
            self.shift.incident, stores, self.scenario.staff.signups_per_store, self.scenario.seed
        )

    def _make_it_right(self) -> None:
        """After resolution: the web shop's failed checkouts, then the goodwill (recover).

        Recovery finds sales that waited offline by the agents' word (``queued_offline``) and,
        for sales without it, by how late they reached HQ. The replay hands each store's sales
        to its agent once per ``TICK``, so a sale made and sent online can reach HQ up to a
        tick after it happened: lags shorter than that mean nothing here, and the threshold is
        raised to the tick for the replay (a real outage holds sales for hours)."""
        if self._recovery_installed():
            from django.test import override_settings

            from tideover.scenarios.recover import after_resolution

            lag = max(settings.RECOVERY_OFFLINE_LAG_SECONDS, int(TICK.total_seconds()) + 120)
            with override_settings(RECOVERY_OFFLINE_LAG_SECONDS=lag):
                after_resolution(
                    self.shift.incident,
                    self.scenario,
                    self.start,
                    deliver=self._deliver,
                    checkouts=self.web_checkouts,
                )

    def _stores_report(self) -> None:
        """Associates in the stores a failure reaches report it (``staff.reports_per_store``)
        through the front-line service, at the minutes they would."""
        from django.apps import apps

        per_store = self.scenario.staff.reports_per_store
        if not per_store or not apps.is_installed("tideover.frontline"):
            return
        from tideover.scenarios.storereports import planned_reports, send_report

        for at, store, failure in planned_reports(
            self.scenario.failures, self.affected, self.stores, self.start, per_store
        ):
            self.world_steps.append(
                (at, "store report", lambda s=store, f=failure, t=at: send_report(s, f, t))
            )

    def _stores_work_the_plan(self) -> None:
        """With Respond installed, the affected stores acknowledge the runbook's plan, tick its
        steps, some get stuck and report what they see, minute by minute (runbooks.demo)."""
        from django.apps import apps

        if apps.is_installed("tideover.runbooks"):
            from tideover.runbooks.demo import attach

            attach(self)

    def _start_watch(self) -> None:
        """Detect watches when it is installed: the normal hours before, then the day."""
        from django.apps import apps

        from tideover.scenarios.traffic import web_checkouts

        self.watch = None
        self.web_checkouts = web_checkouts(self.scenario, self.start)
        if not apps.is_installed("tideover.detect"):
            return
        from tideover.core.models import Component
        from tideover.scenarios.detection import Watch
        from tideover.scenarios.social import make_posts

        minutes = int((self.scenario.returns_after + timedelta(minutes=31)) / timedelta(minutes=1))
        posts = make_posts(self.scenario, self.start, minutes, self.base_dir)
        first_failure = self.start + min(f.at for f in self.scenario.failures)
        self.watch = Watch(self.start, posts, self.web_checkouts, since=first_failure)
        self.watch.warm_up(
            list(Component.objects.filter(slug__in=[f.component for f in self.scenario.failures]))
        )

    def _watch_and_declare(self, at: datetime, first_failure: datetime) -> None:
        """Until the incident is declared, Detect watches every minute; the commander declares
        from its first alert (raised once the failure started) after ``declare_after_alert``,
        or ``declare_at_latest`` after the failure started when nothing (or no Detect) raised
        one: an incident cannot be declared before the trouble it is about."""
        staff = self.scenario.staff
        affected = [self.stores[c] for c in sorted(set().union(*self.affected.values()))]
        if self.watch is not None:
            alert = self.watch.minute(at)
            if alert is not None:
                self.alert_at = alert.started_at
                if at >= alert.started_at + staff.declare_after_alert:
                    self.shift.declare_from_alert(alert, at, stores=affected)
                    return
        if at >= first_failure + staff.declare_at_latest:
            # An alert may come a minute before the failure it is about (Watch's slack): an
            # incident is not detected before it started.
            detected = max(self.alert_at or at, first_failure)
            self.shift.declare(at, started_at=first_failure, detected_at=detected, stores=affected)

    def scorecard(self) -> dict:
        affected = set().union(*self.affected.values())
        return scorecard.replay_card(
            self.scenario,
            self.shift.incident,
            self.fleet_tally,
            start=self.start,
            affected_store_ids=[self.stores[c].pk for c in sorted(affected)],
            deadline_members=self.deadline_members,
            with_recovery=self._recovery_installed(),
        )
