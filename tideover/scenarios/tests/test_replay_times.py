"""When the replay says things happened: the failure's start, the declaration, the run itself."""

from datetime import timedelta

from django.utils import timezone

from tideover.sales.models import Sale
from tideover.scenarios.chain import prepare_chain
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.models import ScenarioRun
from tideover.scenarios.runner import ScenarioRunner

LATE_FAILURE = """\
scenario: 1
name: Registers lose HQ half an hour in
start: {weekday: saturday, time: "14:00"}
chain: {stores: %(stores)d, members: %(members)d}
traffic: {sales_per_store_hour: %(sales)d}
failures:
  - {kind: registers_lose_hq, component: in-store-checkout, stores: {share: 0.5}, at: 30m, until: 1h30m}
staff:
  title: Registers in some stores cannot reach HQ
  first_update: Registers in some stores cannot reach HQ; stores keep selling.
  resolution: Every store is connected again and every sale has arrived.
%(staff)s"""

SMALL = """\
scenario: 1
name: Registers lose HQ in a small chain
start: {weekday: saturday, time: "14:00"}
chain: {stores: 4, members: 50}
traffic: {sales_per_store_hour: 8}
failures:
  - {kind: registers_lose_hq, component: in-store-checkout, stores: {share: 0.5}, until: 1h}
staff:
  title: Registers in some stores cannot reach HQ
  first_update: Registers in some stores cannot reach HQ; stores keep selling.
  resolution: Every store is connected again and every sale has arrived.
  declare_at_latest: 5m
"""


def _late(stores=8, members=200, sales=20, staff="  declare_at_latest: 45m\n"):
    return LATE_FAILURE % {"stores": stores, "members": members, "sales": sales, "staff": staff}


def test_scorecard_start_is_not_before_the_failure(db, settings, tmp_path):
    """Sales made while every line was up are handed to the agents before a line is cut, so
    none counts as queued offline or as the failure's first record."""
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(_late())
    prepare_chain(scenario)
    runner = ScenarioRunner(scenario)
    card = runner.run()
    failure_start = runner.start + timedelta(minutes=30)
    failure_end = runner.start + timedelta(minutes=90)
    offline = Sale.objects.filter(sale_id__in=runner.fleet_tally.accepted_offline)
    early = offline.filter(occurred_at__lt=failure_start).count()
    assert early == 0, f"{early} sales made before the line was cut count as queued offline"
    assert not offline.filter(occurred_at__gte=failure_end).exists()
    assert card["incident"]["started_at"] >= failure_start.isoformat()
    # ... and every sale an affected store made while cut off was held offline, up to the
    # minute its line came back.
    affected = set().union(*runner.affected.values())
    accepted = set(runner.fleet_tally.accepted)
    during = {
        s.payload["sale_id"]
        for s in runner.tills.sales
        if s.store_code in affected and failure_start <= s.occurred < failure_end
    } & accepted
    assert during and during <= set(runner.fleet_tally.accepted_offline)


def test_failure_after_declare_at_latest_is_declared_after_it_starts(db, settings, tmp_path):
    """``declare_at_latest`` (15 min by default) counts from the failure's start, not the
    scenario's: a failure 30 minutes in is not declared at 15 minutes, before it began."""
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(_late(stores=4, members=50, sales=8, staff=""))
    prepare_chain(scenario)
    runner = ScenarioRunner(scenario)
    card = runner.run()
    assert card["incident"]["time_to_declare_min"] >= 0
    incident = runner.shift.incident
    assert incident.declared_at >= runner.start + timedelta(minutes=30)
    assert incident.declared_at <= runner.start + timedelta(minutes=45)


def test_a_day_nobody_declares_reports_never_declared(db, settings, tmp_path):
    """A day whose declaration never comes (the file check refuses such a file; this one is
    changed after the check) still counts its sales and says the incident was never declared,
    instead of failing once the whole day is written."""
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(SMALL)
    late = scenario.staff.model_copy(
        update={"declare_at_latest": timedelta(hours=3), "declare_after_alert": timedelta(hours=3)}
    )
    scenario = scenario.model_copy(update={"staff": late})
    prepare_chain(scenario)
    runner = ScenarioRunner(scenario)
    card = runner.run()
    assert runner.shift.incident is None
    assert card["incident"]["declared"] is False
    assert card["incident"]["time_to_declare_min"] is None
    assert card["sales"]["posted"] == card["sales"]["accepted"] > 0
    assert card["sales"]["lost"] == card["sales"]["doubled"] == 0
    assert card["incident"]["started_at"] >= runner.start.isoformat()
    run = ScenarioRun.objects.get()
    assert run.incident is None and run.scorecard["incident"]["declared"] is False


def test_run_is_stamped_with_the_real_time(db, settings, tmp_path):
    """``ScenarioRun.ran_at`` is when the replay ran, not a minute of the replayed day."""
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(SMALL)
    prepare_chain(scenario)
    before = timezone.now()
    ScenarioRunner(scenario).run()
    assert ScenarioRun.objects.get().ran_at >= before - timedelta(seconds=1)
