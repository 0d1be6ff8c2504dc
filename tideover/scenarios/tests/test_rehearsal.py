"""A rehearsal (``chain.use_current``) on a copy of a live database: the chain's own sales in
the replayed hours are not the replay's, and no figure counts them."""

from datetime import timedelta

from tideover.sales.services import post_sale
from tideover.scenarios.chain import prepare_chain, start_time
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.recover import customers_affected
from tideover.scenarios.runner import ScenarioRunner
from tideover.scenarios.scorecard import first_evidence

REHEARSAL = """\
scenario: 1
name: Rehearsal on a copy of the live database
start: {weekday: saturday, time: "14:00"}
chain: {use_current: %s, stores: 8, members: 200}
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


def _real_sale(sale_id, at, status, member_id=""):
    sale = {
        "sale_id": sale_id,
        "store": "S001",
        "register": "R1",
        "occurred_at": at.isoformat(),
        "status": status,
        "lines": [{"sku": "MILK-1G", "quantity": 1, "unit_price_cents": 389}],
        "tenders": [{"kind": "card", "amount_cents": 389}],
    }
    if member_id:
        sale["member_id"] = member_id
    result = post_sale(sale)
    assert result.result == "posted", result


def test_rehearsal_scorecard_counts_only_the_replays_records(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    prepare_chain(parse_scenario(REHEARSAL % "false"))
    scenario = parse_scenario(REHEARSAL % "true")
    start = start_time(scenario)
    _real_sale("POS-REAL-0001", start + timedelta(minutes=5), "completed")
    _real_sale("POS-REAL-0002", start + timedelta(minutes=40), "completed")
    runner = ScenarioRunner(scenario)
    card = runner.run()
    assert card["sales"]["doubled"] == 0


def test_rehearsal_evidence_and_customers_leave_out_the_chains_own_sales(db, settings, tmp_path):
    """A real declined sale at an affected store, before any of the replay's, neither moves
    the failure's first record nor adds its member to the customers affected."""
    from tideover.loyalty.models import Member

    settings.DATA_DIR = tmp_path
    prepare_chain(parse_scenario(REHEARSAL % "false"))
    runner = ScenarioRunner(parse_scenario(REHEARSAL % "true"))
    runner.run()
    incident, tally = runner.shift.incident, runner.fleet_tally
    evidence = first_evidence(incident, since=runner.start, offline_ids=tally.accepted_offline)
    affected = customers_affected(incident, tally.accepted_offline)
    counted = set(
        runner.tills.sales[i].payload.get("member_id") for i in range(len(runner.tills.sales))
    )
    shopper = Member.objects.exclude(loyalty_id__in=counted).first()
    _real_sale("POS-REAL-0003", runner.start, "declined", member_id=shopper.loyalty_id)
    assert first_evidence(incident, since=runner.start, offline_ids=tally.accepted_offline) == (
        evidence
    )
    assert customers_affected(incident, tally.accepted_offline) == affected
