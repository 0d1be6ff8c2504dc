"""Replaying a scenario through the real parts, and the scorecard computed from the records."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from tideover.demo.sinks import local_delivery
from tideover.incidents.models import IncidentState
from tideover.sales.models import Sale
from tideover.scenarios.chain import prepare_chain, start_time
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.runner import ScenarioRunner

SMALL = """\
scenario: 1
name: Registers lose HQ in a small chain
start: {weekday: saturday, time: "14:00"}
chain: {stores: 8, members: 200}
traffic: {sales_per_store_hour: 20}
failures:
  - {kind: registers_lose_hq, component: in-store-checkout, stores: {share: 0.5}, until: 1h}
staff:
  title: Registers in some stores cannot reach HQ
  first_update: Registers in some stores cannot reach HQ; stores keep selling.
  resolution: Every store is connected again and every sale has arrived.
  declare_at_latest: 5m
  update_every: 15m
"""


@pytest.fixture
def small_run(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(SMALL)
    prepare_chain(scenario)
    runner = ScenarioRunner(scenario)
    return runner, runner.run()


def test_every_sale_the_tills_accepted_posts_once(small_run):
    runner, card = small_run
    sales = card["sales"]
    assert sales["accepted"] > 100
    assert sales["posted"] == sales["accepted"]
    assert sales["lost"] == 0 and sales["doubled"] == 0
    assert 0 < sales["accepted_offline"] < sales["accepted"]
    assert Sale.objects.count() == sales["accepted"]


def test_offline_sales_keep_the_time_they_happened(small_run):
    runner, _ = small_run
    start = runner.start
    offline = Sale.objects.filter(sale_id__in=runner.fleet_tally.accepted_offline)
    assert offline.exists()
    assert all(start <= s.occurred_at < start + timedelta(hours=1) for s in offline)


def test_public_hears_on_cadence_and_incident_is_resolved(small_run):
    runner, card = small_run
    incident = runner.shift.incident
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert card["incident"]["cadence_misses"] == 0
    # Detect sees the coverage drop in the outage's first minute; the commander declares from
    # the alert three minutes later (the default declare_after_alert).
    assert card["incident"]["time_to_detect_min"] <= 1
    assert card["incident"]["time_to_declare_min"] == card["incident"]["time_to_detect_min"] + 3
    # declared at 5 min, updates every 15 until resolved at 62 min
    assert card["incident"]["public_updates"] >= 5


def test_card_exposure_peak_counts_only_cards_held_offline(small_run):
    _, card = small_run
    assert card["peak_card_exposure_cents"] > 0


def test_cadence_misses_count_each_silent_gap(small_run, severities):
    from tideover.incidents import services
    from tideover.scenarios.scorecard import cadence_misses

    start = datetime(2026, 11, 7, 20, 0, tzinfo=UTC)
    incident = services.declare_incident(
        title="Gaps", severity=severities["SEV1"], all_stores=True, message="First.", at=start
    )
    services.post_public_update(incident, "Second, on time.", at=start + timedelta(minutes=14))
    services.post_public_update(incident, "Third, late.", at=start + timedelta(minutes=40))
    services.resolve_incident(incident, "Done.", at=start + timedelta(minutes=50))
    assert cadence_misses(incident) == 1


def test_scenario_command_writes_the_report(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    report = tmp_path / "card.json"
    call_command("scenario", "run", str(path), "--report", str(report))
    import json

    card = json.loads(report.read_text())
    assert card["sales"]["lost"] == 0
    assert card["scenario"]["name"] == "Registers lose HQ in a small chain"


def test_start_is_the_latest_such_weekday_at_least_a_day_ago():
    scenario = parse_scenario(SMALL)
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # a Sunday
    start = start_time(scenario, now)
    assert start.weekday() == 5 and start.hour == 14
    assert timedelta(days=1) <= now - start < timedelta(days=8)


def test_scorecard_is_shown_on_the_incident_it_produced(small_run, client):
    runner, card = small_run
    client.force_login(runner.shift.commander)  # the seeded chain's commander
    page = client.get(f"/console/incidents/{runner.shift.incident.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Scorecard" in text and "Sales lost" in text
    assert f"{card['sales']['accepted']:,}" in text


@pytest.mark.parametrize(
    "name",
    [
        "saturday-registers.yaml",
        "card-processor-evening.yaml",
        "web-checkout-half-day.yaml",
        "loyalty-stuck-before-deadline.yaml",
    ],
)
def test_shipped_scenario_keeps_every_promise_at_small_size(name, db, settings, tmp_path):
    """Each shipped scenario, shrunk to a few stores: nothing lost or doubled, cadence kept."""
    from pathlib import Path

    from tideover.scenarios.loader import load_scenario

    settings.DATA_DIR = tmp_path
    scenario = load_scenario(Path(__file__).resolve().parents[3] / "scenarios" / name)
    scenario = scenario.model_copy(
        update={
            "chain": scenario.chain.model_copy(update={"stores": 6, "members": 200}),
            "traffic": scenario.traffic.model_copy(
                update={"sales_per_store_hour": 4, "web_orders_per_hour": 30}
            ),
            "loyalty": scenario.loyalty
            and scenario.loyalty.model_copy(update={"expiring_members": 10}),
        }
    )
    prepare_chain(scenario)
    with local_delivery(tmp_path):
        card = ScenarioRunner(scenario, deliver=True).run()
    assert card["sales"]["accepted"] > 0
    if scenario.card_policy is not None:
        # Beyond the offline card limits the till was told to take cash; nothing was lost.
        assert any("card not accepted offline" in r for r in card["refused_at_the_tills"])
    if scenario.loyalty is not None:
        promise = card["loyalty_deadline"]
        assert promise["reminded"] == promise["members_with_points_due"] > 0
        assert promise["shopped_by_deadline"] > 0
        assert promise["reinstated_after_late_posting"] == promise["shopped_by_deadline"]
        assert promise["promises_broken"] == 0
    assert card["sales"]["lost"] == 0 and card["sales"]["doubled"] == 0
    assert card["incident"]["cadence_misses"] == 0
    assert card["incident"]["time_to_resolve_min"] is not None
    # The detector raised the alert the commander declared from, before the latest moment the
    # scenario lets the commander wait without one.
    detect = card["incident"]["time_to_detect_min"]
    assert detect is not None and detect < scenario.staff.declare_at_latest.total_seconds() / 60
    from tideover.detect.models import Alert, CheckoutTally

    kinds = {f.kind for f in scenario.failures}
    alerted = {
        s.slug for s in Alert.objects.get(incident_id=card["incident"]["incident_id"]).signals.all()
    }
    # HQ hears each agent every minute its line is up: coverage drops only where lines were cut.
    cut = bool(kinds & {"registers_lose_hq", "loyalty_posting_delayed"})
    assert ("heartbeat-coverage" in alerted) == cut, alerted
    if "web_checkout_errors" in kinds:
        # The web shop reported its checkouts minute by minute, and Detect saw the errors.
        assert CheckoutTally.objects.filter(source="web").count() > 60
        assert "web-checkout-error-rate" in alerted
    if scenario.recovery is not None:
        # Everyone captured with consent gets an offer; some come back with the code.
        goodwill = card["recovery"]
        assert goodwill["captured"] > 0 and goodwill["offers"] > 0
        from tideover.recovery.models import AffectedCustomer, GoodwillOffer

        incident_id = card["incident"]["incident_id"]
        consenting = AffectedCustomer.objects.filter(incident_id=incident_id).exclude(
            consent_text=""
        )
        offered = GoodwillOffer.objects.filter(incident_id=incident_id)
        assert set(offered.values_list("customer_id", flat=True)) >= set(
            consenting.values_list("pk", flat=True)
        )
        # ...and every offer with a channel reached its person (the replay delivers to the
        # local sinks, at the scenario's time).
        from tideover.notifications.models import OutboxMessage

        with_channel = offered.exclude(channel="")
        sent = OutboxMessage.objects.filter(
            dedupe_key__in=list(with_channel.values_list("dedupe_key", flat=True)),
            sent_at__isnull=False,
        )
        assert with_channel.exists() and sent.count() == with_channel.count()
        assert goodwill["sent"] == with_channel.count()
        assert 0 <= goodwill["reached_within_1h_of_resolution"] <= goodwill["sent"]
        assert goodwill["customers_affected"] >= goodwill["captured"]


def test_a_sale_no_till_accepted_counts_as_doubled(small_run, client):
    """The doubled figure can find something: a sale at HQ beside the ones the tills accepted."""
    import json

    from tideover.core.models import Store, TokenScope
    from tideover.core.services import create_api_token
    from tideover.scenarios.scorecard import sales_section

    runner, card = small_run
    assert card["sales"]["doubled"] == 0
    first = Sale.objects.order_by("occurred_at").first()
    store = Store.objects.get(pk=first.store_id)
    _, token = create_api_token(name="rogue", scopes=[TokenScope.SALES_WRITE], store=store)
    rogue = {
        "sale_id": f"{store.code}-ROGUE-1",
        "store": store.code,
        "occurred_at": (first.occurred_at + timedelta(minutes=1)).isoformat(),
        "lines": [{"sku": "MILK-1G", "quantity": 1, "unit_price_cents": 389}],
        "tenders": [{"kind": "card", "amount_cents": 389}],
    }
    answer = client.post(
        "/api/v1/sales",
        data=json.dumps(rogue),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 200
    tally = runner.fleet_tally
    assert sales_section(tally.accepted, offline_ids=tally.accepted_offline)["doubled"] == 1


def test_replay_on_the_current_database_needs_the_rehearsal_flag(db, settings, tmp_path):
    """A scenario on the current database would put its sales and offers on the members stored
    there: refused unless the operator says this is a copy."""
    from django.core.management.base import CommandError

    settings.DATA_DIR = tmp_path
    path = tmp_path / "current.yaml"
    path.write_text(SMALL.replace("chain: {stores: 8, members: 200}", "chain: {use_current: true}"))
    with pytest.raises(CommandError, match="--rehearsal-database"):
        call_command("scenario", "run", str(path))
    assert not Sale.objects.exists()


def test_records_carry_the_scenario_time_not_the_replay_time(small_run):
    """Sales reach HQ, and agents are heard from, at the replay's clock: within the scenario's
    day, so figures that compare two times measure the day, not how fast it was replayed."""
    from tideover.storelink.models import StoreAgent

    runner, card = small_run
    day_end = runner.start + timedelta(hours=3)
    sales = Sale.objects.filter(sale_id__startswith="S")
    assert sales.exists()
    assert not sales.filter(posted_at__lt=runner.start).exists()
    assert not sales.filter(posted_at__gt=day_end).exists()
    agents = StoreAgent.objects.all()
    assert agents.count() == 8
    assert not agents.filter(last_seen_at__lt=runner.start).exists()
    assert not agents.filter(last_seen_at__gt=day_end).exists()


def test_time_to_detect_counts_from_the_first_record_of_the_failure(db):
    """A detector that notices late does not shorten the time to detect: a declined sale
    before the incident's recorded start moves the start back."""
    from tideover.core.models import Store
    from tideover.demo.seed import seed_all
    from tideover.incidents.models import Severity
    from tideover.incidents.services import declare_incident, ensure_default_severities
    from tideover.sales.services import post_sale
    from tideover.scenarios.scorecard import first_evidence, incident_section

    seed_all(2)
    ensure_default_severities()
    store = Store.objects.order_by("code").first()
    failed_at = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    incident = declare_incident(
        title="Web checkout failing",
        severity=Severity.objects.get(level=2),
        stores=[store],
        message="Some card payments fail at the tills.",
        started_at=failed_at + timedelta(minutes=4),  # the detector's first unusual minute
        detected_at=failed_at + timedelta(minutes=6),
        at=failed_at + timedelta(minutes=8),
    )
    post_sale(
        {
            "sale_id": f"{store.code}-D1",
            "store": store.code,
            "occurred_at": failed_at.isoformat(),
            "status": "declined",
            "lines": [{"sku": "MILK-1G", "quantity": 1, "unit_price_cents": 389}],
        },
    )
    evidence = first_evidence(incident, since=failed_at - timedelta(hours=1))
    assert evidence == (failed_at, "a sale declined or failed at the till")
    section = incident_section(incident, evidence)
    assert section["time_to_detect_min"] == 6.0
    assert section["time_to_declare_min"] == 8.0
    assert incident_section(incident)["time_to_detect_min"] == 2.0


def test_associates_in_each_affected_store_report_the_trouble(small_run):
    """``staff.reports_per_store``: every store that lost HQ sends its report through the
    front-line service, a few minutes after the failure reached it, as one of its associates."""
    from tideover.frontline.models import Report

    runner, card = small_run
    affected = set().union(*runner.affected.values())
    reports = Report.objects.filter(reporter__username__startswith="scenario.associate.")
    reports = reports.select_related("store")
    assert sorted(r.store.code for r in reports) == sorted(affected)
    for report in reports:
        assert report.category == "registers"
        assert runner.start < report.created_at < runner.start + timedelta(minutes=20)


def test_every_sale_of_the_day_reaches_a_till_on_the_replays_clock(small_run):
    """The sales made after the replay's last minute are rung up as the clock reaches them:
    none is refused as made 'in the future', and every one the tills made is accounted for."""
    runner, card = small_run
    assert not any("future" in reason for reason in card["refused_at_the_tills"])
    refused = sum(card["refused_at_the_tills"].values())
    assert card["sales"]["accepted"] + refused == len(runner.tills.sales)
