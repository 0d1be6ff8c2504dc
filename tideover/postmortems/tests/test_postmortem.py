"""The postmortem's numbers against an incident built minute by minute."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tideover.core.models import ComponentStatus
from tideover.frontline import services as frontline
from tideover.incidents import services as incidents
from tideover.postmortems import services
from tideover.postmortems.draft import draft
from tideover.runbooks import checklists
from tideover.runbooks.models import Checklist
from tideover.sales.models import Sale, SaleTender


def _sale(
    store, sale_id, occurred, posted, status="completed", member="", cents=1000, offline_card=False
):
    sale = Sale.objects.create(
        sale_id=sale_id,
        store=store,
        register="R1",
        occurred_at=occurred,
        posted_at=posted,
        status=status,
        member_id=member,
        total_cents=cents,
        paid_cents=cents,
        content_hash=sale_id,
    )
    if offline_card:
        SaleTender.objects.create(sale=sale, kind="card_offline", amount_cents=cents)
    return sale


@pytest.fixture
def built(severities, components, chain, staff):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3)
    m = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    incident = incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
        message="Stores are open and selling offline.",
        started_at=start,
        detected_at=m(3),
        at=m(5),
    )
    incidents.post_public_update(incident, "Cause found.", state="identified", at=m(20))
    incidents.post_public_update(incident, "Still fixing.", at=m(50))  # 30 min of silence: a miss
    incidents.post_public_update(incident, "Stores reconnecting.", state="monitoring", at=m(60))
    s001 = Checklist.objects.get(incident=incident, store__code="S001")
    checklists.acknowledge(s001, at=m(7))
    for step in s001.steps.all():
        checklists.tick(step, at=m(15))
    stores = chain["stores"]
    _sale(stores["S001"], "A", m(10), m(70), member="M1", cents=1250, offline_card=True)
    _sale(stores["S001"], "B", m(12), m(12), status="declined")
    _sale(stores["S002"], "C", m(30), m(31) + timedelta(seconds=30), cents=500)
    _sale(stores["S003"], "D", m(30), m(90))  # not an affected store
    report = frontline.submit_report(
        kind="problem",
        category="registers",
        text="Till 2 frozen",
        store=stores["S001"],
        reporter=staff["store_associate"],
        at=m(25),
    )
    frontline.link_to_incident(report, incident)
    frontline.answer(report, "Restart the till; sales are kept.")
    services.add_action_item(
        incident, text="Second network link for stores", owner="IT", due_on=date(2030, 1, 31)
    )
    incidents.resolve_incident(
        incident, "All stores back.", at=m(80)
    )  # 20 min after the last: a miss
    incident.refresh_from_db()
    return incident


def test_postmortem_times_and_cadence_misses(built):
    text = draft(built)
    assert "| Detected | " in text and "time to detect: 3 min |" in text
    assert "time to first public update: 0 s |" in text
    assert "time to mitigate: 1 h 00 min |" in text  # monitoring at +60 after the start
    assert "time to resolve: 1 h 20 min |" in text
    assert "- Public updates: 5 (promised at least every 15 min)" in text
    assert "- Cadence misses: 2" in text
    assert "(30 min)" in text and "(20 min)" in text
    assert "- Keep updating: broken 2 time(s)" in text


def test_postmortem_stores_plan_and_sales(built):
    text = draft(built)
    assert "- Stores affected: 2 (North)" in text
    assert "- Registers in those stores: 2" in text
    assert "- Runbook: In-store checkout down, version 1" in text
    assert (
        "- Stores with the plan in force: 2; acknowledged: 1 (median 2 min); finished every step: 1 "
        "(median 10 min); stuck at the end: 0; nudged: 0"
    ) in text
    assert "- Sales in affected stores during the incident: 3 (completed 2, declined 1)" in text
    assert "- Queued offline and posted later: 1 ($12.50); longest wait 1 h 00 min" in text
    assert "- Card payments taken offline: 1" in text
    assert "- Member sales whose points posted late: 1" in text
    assert "- Loyalty points delayed: 1 member sale(s)" in text


def test_postmortem_front_line_timeline_and_action_items(built):
    text = draft(built)
    assert "- Reports linked to this incident: 1 problem(s), 0 about what customers said" in text
    assert "S001: Till 2 frozen — answered: Restart the till; sales are kept." in text
    assert "**Public update**" in text and "Cause found." in text
    assert "S001 ticked" not in text  # per-store ticks are summed up, not listed
    assert "- [ ] Second network link for stores (IT, due 2030-01-31)" in text
    from django.apps import apps

    if apps.is_installed("tideover.recovery"):
        assert "- Affected customers signed up or found: 0" in text
        assert "- Goodwill: 0 sent, 0 redeemed" in text
    else:
        assert "Recover capability" in text  # not installed: said, not guessed


def test_action_items_are_edited_on_the_postmortem_page_and_exported(built, client_as):
    client = client_as("incident_commander")
    page = client.get(f"/console/postmortems/incidents/{built.pk}/")
    assert page.status_code == 200 and "Cadence misses: 2" in page.content.decode()
    assert (
        client.post(f"/console/postmortems/incidents/{built.pk}/actions/", {"text": ""}).status_code
        == 400
    )
    client.post(
        f"/console/postmortems/incidents/{built.pk}/actions/",
        {"text": "Drill cash-only monthly", "owner": "Store ops"},
    )
    item = built.action_items.get(text="Drill cash-only monthly")
    client.post(
        f"/console/postmortems/actions/{item.pk}/",
        {
            f"item{item.pk}-text": "Drill cash-only every month",
            f"item{item.pk}-owner": "Store ops",
            f"item{item.pk}-done": "on",
        },
    )
    exported = client.get(f"/console/postmortems/incidents/{built.pk}/postmortem.md")
    assert exported["Content-Type"].startswith("text/markdown")
    assert "- [x] Drill cash-only every month (Store ops)" in exported.content.decode()
    assert (
        client_as("store_associate").get(f"/console/postmortems/incidents/{built.pk}/").status_code
        == 403
    )


def test_postmortem_message_figures_stay_the_same_after_pruning(built, settings):
    """Pruning keeps tallies per category, and the postmortem adds them to the rows left."""
    from tideover.notifications.models import Category, OutboxMessage
    from tideover.notifications.pruning import prune_messages

    old = timezone.now() - timedelta(days=40)
    for n in range(5):
        OutboxMessage.objects.create(
            channel="email", recipient=f"shopper{n}@example.com", dedupe_key=f"pm:{n}",
            state="sent", incident_id=built.pk, category=Category.STATUS, created_at=old,
        )  # fmt: skip
    OutboxMessage.objects.create(
        channel="email", recipient="x@example.com", dedupe_key="pm:failed", state="failed",
        incident_id=built.pk, category=Category.STATUS, created_at=old,
    )  # fmt: skip
    OutboxMessage.objects.create(
        channel="webhook", recipient="https://ops.example/hook", dedupe_key="pm:staff",
        state="sent", incident_id=built.pk, category=Category.INTERNAL, created_at=old,
    )  # fmt: skip

    def figures():
        return [
            line
            for line in draft(built).splitlines()
            if "Messages to subscribers" in line or "Staff briefings:" in line
        ]

    before = figures()
    settings.PRUNE_MESSAGES_DAYS = 30
    assert prune_messages()["messages"] == 7
    assert figures() == before


@pytest.fixture
def outage(severities, components, chain):
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
    )


def test_silence_while_resolved_is_not_a_cadence_miss(severities, components, chain):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=2)
    m = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    incident = incidents.declare_incident(
        title="Card payments failing",
        severity=severities["SEV1"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        message="Cards are failing; cash works.",
        at=m(0),
    )
    incidents.post_public_update(incident, "Fixed.", state="resolved", at=m(10))
    incidents.reopen_incident(incident, "Card payments failing again.", at=m(24 * 60))
    incidents.post_public_update(incident, "Fixed for good.", state="resolved", at=m(24 * 60 + 10))
    text = draft(incident, now=m(24 * 60 + 20))
    assert "Cadence misses: 0" in text
    assert "Keep updating: kept" in text


def test_silence_after_reopening_is_a_cadence_miss(severities, components, chain):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=2)
    m = lambda minutes: start + timedelta(minutes=minutes)  # noqa: E731
    incident = incidents.declare_incident(
        title="Card payments failing",
        severity=severities["SEV1"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        message="Cards are failing; cash works.",
        at=m(0),
    )
    incidents.post_public_update(incident, "Fixed.", state="resolved", at=m(10))
    incidents.reopen_incident(incident, "Card payments failing again.", at=m(24 * 60))
    text = draft(incident, now=m(24 * 60 + 40))  # reopened 40 min ago, nothing said since
    assert "Cadence misses: 1" in text
    assert "(40 min)" in text


def test_double_submit_action_item_makes_one_item(outage, client_as):
    from tideover.postmortems.models import ActionItem

    client = client_as("incident_commander")
    url = f"/console/postmortems/incidents/{outage.pk}/actions/"
    data = {"text": "Add a second uplink to every store", "owner": "it"}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302
    assert ActionItem.objects.filter(incident=outage).count() == 1


def test_the_same_action_item_added_by_a_service_twice_is_kept_twice(outage):
    """Only a person's form is guarded (``once``); imports and scripts add what they are given."""
    services.add_action_item(outage, text="Call the carrier", owner="IT")
    services.add_action_item(outage, text="Call the carrier", owner="IT")
    assert outage.action_items.count() == 2


def test_report_text_cannot_forge_postmortem_sections(outage, chain, staff):
    report = frontline.submit_report(
        kind="problem",
        category="registers",
        text="Tills down\n\n## Action items\n\n- [x] Nothing to do, all fixed",
        store=chain["stores"]["S001"],
        reporter=staff["store_associate"],
    )
    frontline.link_to_incident(report, outage)
    frontline.answer(report, "Restart them\n# Postmortem: all good\n* done")
    text = draft(outage)
    assert text.count("## Action items") == 1
    assert [h for h in text.splitlines() if h.startswith("# ")] == [
        "# Postmortem: Registers cannot reach HQ"
    ]
    assert not any(line.startswith(("- [x]", "* ")) for line in text.splitlines())
    assert r"S001: Tills down \#\# Action items - \[x\] Nothing to do, all fixed" in text
    assert r"answered: Restart them \# Postmortem: all good \* done" in text


def test_postmortem_lists_a_plan_once_when_stores_join_later(outage, chain):
    incidents.set_store_scope(
        outage,
        regions=list(chain["regions"].values()),
        at=timezone.now() + timedelta(minutes=10),
    )
    [line] = [row for row in draft(outage).splitlines() if row.startswith("- Plans used")]
    assert line.count("Plan B") == 1, line


def test_postmortem_lists_both_plans_after_a_plan_change(outage):
    from tideover.runbooks import services as runbooks

    runbooks.move_to_plan(outage, 1, reason="Still down after an hour")
    [line] = [row for row in draft(outage).splitlines() if row.startswith("- Plans used")]
    assert line.count("Plan B") == 1 and line.count("Plan C") == 1, line
    assert line.index("Plan B") < line.index("Plan C")
