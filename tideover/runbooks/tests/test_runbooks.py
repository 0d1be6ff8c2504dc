"""Runbooks: matching, versions, fan-out to affected stores only, plan changes, the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import ComponentStatus
from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent
from tideover.runbooks import checklists, services
from tideover.runbooks.defaults import DEFAULT_RUNBOOKS
from tideover.runbooks.models import Checklist, ChecklistStep, IncidentRunbook, Runbook
from tideover.runbooks.text import parse

SMALL = """\
# Plan B: Keep selling
Move on when: still down after 20 minutes
## Store associates
- Take cash
- Tell customers points come later
## IT
- Call the vendor
## Say
- "Your points will arrive later."
## Don't say
- "The system is down."

# Plan C: Cash only
## Store associates
- Put up the cash-only sign
## Store managers
- Name a queue marshal
"""


def declare(severities, components, slug="in-store-checkout", **kwargs):
    kwargs.setdefault("title", "Registers cannot reach HQ")
    return incidents.declare_incident(
        severity=kwargs.pop("severity", severities["SEV1"]),
        components={components[slug]: ComponentStatus.MAJOR_OUTAGE},
        **kwargs,
    )


def test_every_shipped_runbook_parses_into_plans_with_talking_points():
    for slug, (_, text) in DEFAULT_RUNBOOKS.items():
        plans = parse(text)
        assert len(plans) >= 2, slug
        assert all(plan["say"] and plan["dont_say"] for plan in plans), slug
        assert all(plan["move_on_when"] for plan in plans[:-1]), slug


def test_a_mistake_in_the_text_names_the_line_to_fix():
    with pytest.raises(DomainError, match="Line 3: 'Cashiers' is not one of"):
        parse("# Plan B: x\nMove on when: y\n## Cashiers\n- a")
    with pytest.raises(DomainError, match="Plan B: say when to move on to Plan C"):
        parse("# Plan B\n## IT\n- a\n# Plan C\n## IT\n- b")


def test_declaring_attaches_the_shipped_runbook_and_fans_out_to_affected_stores_only(
    severities, components, chain
):
    north = chain["regions"]["north"]
    incident = declare(severities, components, regions=[north])
    attached = IncidentRunbook.objects.get(incident=incident)
    assert attached.version.runbook.component == components["in-store-checkout"]
    assert attached.version.author_name == "shipped default"
    stores = set(
        Checklist.objects.filter(incident=incident, store__isnull=False).values_list(
            "store__code", flat=True
        )
    )
    assert stores == {"S001", "S002"}
    teams = set(
        Checklist.objects.filter(incident=incident, store__isnull=True).values_list(
            "team", flat=True
        )
    )
    assert teams == {"customer_service", "social_team", "it"}
    store_list = Checklist.objects.get(incident=incident, store__code="S001")
    audiences = {s.audience for s in store_list.steps.all()}
    assert audiences == {"store_associates", "store_managers"}
    assert TimelineEvent.objects.filter(
        incident=incident, kind="checklist", body__contains="2 store(s)"
    ).exists()


def test_the_runbook_for_the_incidents_severity_wins_over_the_any_severity_one(
    severities, components, chain
):
    component = components["card-payments"]
    services.create_runbook(component=component, severity=None, title="Any", text=SMALL)
    sev2 = services.create_runbook(
        component=component, severity=severities["SEV2"], title="SEV2 only", text=SMALL
    )
    incident = declare(
        severities, components, "card-payments", severity=severities["SEV2"], all_stores=True
    )
    assert incident.runbook.version.runbook == sev2
    other = declare(
        severities, components, "card-payments", severity=severities["SEV1"], all_stores=True
    )
    assert other.runbook.version.runbook.title == "Any"


def test_worst_hit_component_chooses_the_runbook(severities, components, chain):
    services.create_runbook(
        component=components["loyalty"], severity=None, title="Loyalty", text=SMALL
    )
    services.create_runbook(
        component=components["mobile-app"], severity=None, title="App", text=SMALL
    )
    incident = incidents.declare_incident(
        title="Points and app",
        severity=severities["SEV2"],
        components={
            components["mobile-app"]: ComponentStatus.DEGRADED_PERFORMANCE,
            components["loyalty"]: ComponentStatus.MAJOR_OUTAGE,
        },
        all_stores=True,
    )
    assert incident.runbook.version.runbook.title == "Loyalty"


def test_an_incident_keeps_the_version_it_started_with(severities, components, chain, staff):
    runbook = services.create_runbook(
        component=components["card-payments"], severity=None, title="Cards", text=SMALL
    )
    first = declare(severities, components, "card-payments", all_stores=True)
    edited = services.save_version(
        runbook,
        text=SMALL.replace("Take cash", "Take cash and vouchers"),
        note="vouchers",
        actor=Actor.of(staff["incident_commander"]),
    )
    assert edited.number == 2 and edited.author_name == "incident_commander"
    second = declare(
        severities, components, "card-payments", all_stores=True, title="Card terminals down"
    )
    assert IncidentRunbook.objects.get(incident=first).version.number == 1
    assert IncidentRunbook.objects.get(incident=second).version.number == 2
    assert ChecklistStep.objects.filter(checklist__incident=first, text="Take cash").exists()
    assert ChecklistStep.objects.filter(
        checklist__incident=second, text="Take cash and vouchers"
    ).exists()
    with pytest.raises(Conflict, match="Nothing changed"):
        services.save_version(runbook, text=edited.text)


def test_no_runbook_for_a_component_without_one(severities, components, chain):
    incident = declare(severities, components, "mobile-app", all_stores=True)
    assert not IncidentRunbook.objects.filter(incident=incident).exists()
    assert not Checklist.objects.filter(incident=incident).exists()


def test_moving_to_plan_c_reissues_the_steps_and_keeps_plan_b_for_the_record(
    severities, components, chain
):
    services.create_runbook(
        component=components["card-payments"], severity=None, title="Cards", text=SMALL
    )
    incident = declare(severities, components, "card-payments", stores=[chain["stores"]["S003"]])
    services.move_to_plan(incident, 1, reason="still down after 20 minutes")
    current = Checklist.objects.filter(incident=incident, superseded_at__isnull=True)
    assert {c.plan_name for c in current} == {"Plan C"}
    store_list = current.get(store__code="S003")
    assert [s.text for s in store_list.steps.all()] == [
        "Put up the cash-only sign",
        "Name a queue marshal",
    ]
    assert not current.filter(store__isnull=True).exists()  # Plan C has no team steps
    assert (
        Checklist.objects.filter(
            incident=incident, plan_name="Plan B", superseded_at__isnull=False
        ).count()
        == 2
    )
    event = TimelineEvent.objects.filter(
        incident=incident, body__startswith="Moved from Plan B"
    ).get()
    assert "still down after 20 minutes" in event.body
    old_step = ChecklistStep.objects.filter(
        checklist__plan_name="Plan B", checklist__store__code="S003"
    ).first()
    with pytest.raises(Conflict, match="moved to another plan"):
        checklists.tick(old_step)
    services.move_to_plan(incident, 0)  # and back: Plan B is issued again
    assert (
        Checklist.objects.filter(
            incident=incident, plan_name="Plan B", superseded_at__isnull=True
        ).count()
        == 2
    )
    with pytest.raises(Conflict, match="already in force"):
        services.move_to_plan(incident, 0)


def test_ticking_steps_lands_on_the_timeline_and_the_last_one_finishes_the_checklist(
    severities, components, chain, staff
):
    services.create_runbook(
        component=components["card-payments"], severity=None, title="Cards", text=SMALL
    )
    incident = declare(severities, components, "card-payments", stores=[chain["stores"]["S001"]])
    checklist = Checklist.objects.get(incident=incident, store__code="S001")
    associate = Actor.of(staff["store_associate"])
    first, second = checklist.steps.all()
    checklists.tick(first, actor=associate)
    checklist.refresh_from_db()
    assert checklist.acknowledged_at is not None and checklist.acknowledged_by == "store_associate"
    assert checklist.done_at is None
    checklists.tick(first, actor=associate)  # a resent form changes nothing
    checklists.tick(second, actor=associate)
    checklist.refresh_from_db()
    assert checklist.done_at is not None
    bodies = list(
        TimelineEvent.objects.filter(incident=incident, kind="checklist").values_list(
            "body", flat=True
        )
    )
    assert "S001 ticked: Take cash" in bodies
    assert "S001 acknowledged Plan B." in bodies
    assert "S001 finished every step of Plan B." in bodies
    assert bodies.count("S001 ticked: Take cash") == 1
    checklists.tick(second, done=False, actor=associate)
    checklist.refresh_from_db()
    assert checklist.done_at is None


def test_changing_the_affected_stores_sends_the_plan_to_new_stores_and_withdraws_it_from_dropped_ones(
    severities, components, chain
):
    incident = declare(severities, components, stores=[chain["stores"]["S001"]])
    incidents.set_store_scope(incident, stores=[chain["stores"]["S002"], chain["stores"]["S004"]])
    current = Checklist.objects.filter(
        incident=incident, superseded_at__isnull=True, store__isnull=False
    )
    assert set(current.values_list("store__code", flat=True)) == {"S002", "S004"}
    assert Checklist.objects.get(incident=incident, store__code="S001").superseded_at is not None


def test_nudging_marks_the_silent_stores_and_says_so_on_the_timeline(severities, components, chain):
    start = timezone.now() - timedelta(minutes=10)
    incident = declare(severities, components, all_stores=True, at=start)
    checklists.acknowledge(Checklist.objects.get(incident=incident, store__code="S001"))
    nudged = checklists.nudge_unacknowledged(incident, older_than_minutes=5)
    assert [s.code for s in nudged] == ["S002", "S003", "S004"]
    assert Checklist.objects.filter(incident=incident, nudges=1).count() == 3
    assert TimelineEvent.objects.filter(
        incident=incident, body__startswith="Nudged 3 store(s)"
    ).exists()
    with pytest.raises(Conflict):
        checklists.nudge_unacknowledged(incident, older_than_minutes=60)


def test_a_runbook_exists_once_per_component_and_severity(components, db):
    services.create_runbook(component=components["loyalty"], severity=None, title="A", text=SMALL)
    with pytest.raises(Conflict):
        services.create_runbook(
            component=components["loyalty"], severity=None, title="B", text=SMALL
        )
    assert Runbook.objects.count() == 1


def test_a_store_can_be_nudged_again_after_a_minute(severities, components, chain):
    start = timezone.now() - timedelta(minutes=10)
    incident = declare(severities, components, all_stores=True, at=start)
    assert len(checklists.nudge_unacknowledged(incident, older_than_minutes=5)) == 4
    assert checklists.nudge_unacknowledged(incident, older_than_minutes=5) == []
    later = timezone.now() + timedelta(minutes=2)
    assert len(checklists.nudge_unacknowledged(incident, older_than_minutes=5, at=later)) == 4
    stores = Checklist.objects.filter(incident=incident, store__isnull=False)
    assert set(stores.values_list("nudges", flat=True)) == {2}
