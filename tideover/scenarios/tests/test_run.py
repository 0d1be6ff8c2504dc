"""Replaying a scenario through the real parts, and the scorecard computed from the records."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from tideover.incidents.models import IncidentState
from tideover.sales.models import Sale
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.runner import ScenarioRunner, prepare_chain, start_time

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
    card = ScenarioRunner(scenario).run()
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
