"""Checklists: the plan in force handed out per affected store and per team, and what stores
and teams do with them (acknowledge, tick, say they are stuck), and the commander's nudges.

Ticking a step lands on the incident's timeline. Fan-out writes the rows in bulk (two inserts
for any number of stores), so declaring an incident for 2,000 stores stays a single quick
transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tideover.core import events
from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import Store
from tideover.core.text import clean_text
from tideover.incidents.models import Incident
from tideover.incidents.services import record_timeline_event
from tideover.incidents.services.repeats import REPEAT_SECONDS
from tideover.runbooks import nudges
from tideover.runbooks.models import Checklist, ChecklistStep, IncidentRunbook
from tideover.runbooks.text import store_steps, team_steps

MAX_NOTE = 500


def issue(incident: Incident, attached: IncidentRunbook, *, at: datetime, store_ids=None) -> dict:
    """Write the current plan's checklists: one per affected store, one per team."""
    plan = attached.plan
    per_store = store_steps(plan)
    per_team = team_steps(plan)
    if store_ids is None:
        store_ids = sorted(incident.affected_store_ids()) if per_store else []
        teams = per_team
    else:
        teams = {}
    base = {
        "incident": incident,
        "plan_index": attached.plan_index,
        "plan_name": plan["name"],
        "is_drill": incident.is_drill,
        "issued_at": at,
    }
    rows = [
        Checklist(store_id=store_id, steps_total=len(per_store), **base) for store_id in store_ids
    ]
    rows += [Checklist(team=team, steps_total=len(items), **base) for team, items in teams.items()]
    made = Checklist.objects.bulk_create(rows, batch_size=1000)
    steps = []
    for checklist in made:
        items = (
            per_store
            if checklist.store_id
            else [(checklist.team, t) for t in teams[checklist.team]]
        )
        steps += [
            ChecklistStep(checklist=checklist, position=i, audience=audience, text=text[:500])
            for i, (audience, text) in enumerate(items, start=1)
        ]
    ChecklistStep.objects.bulk_create(steps, batch_size=2000)
    return {"stores": len(store_ids), "teams": len(teams)}


def supersede(incident: Incident, *, at: datetime, store_ids=None) -> int:
    """Retire the current checklists (all, or these stores'); they stay for the record."""
    current = Checklist.objects.filter(incident=incident, superseded_at__isnull=True)
    if store_ids is not None:
        current = current.filter(store_id__in=store_ids)
    return current.update(superseded_at=at)


@transaction.atomic
def follow_store_scope(incident: Incident, *, actor: Actor = SYSTEM, at=None) -> dict:
    """After the affected stores changed: new stores get the plan, dropped stores stop."""
    at = at or timezone.now()
    attached = IncidentRunbook.objects.select_related("version").filter(incident=incident).first()
    if attached is None or not store_steps(attached.plan):
        return {"added": 0, "removed": 0}
    wanted = incident.affected_store_ids()
    have = set(
        Checklist.objects.filter(
            incident=incident, superseded_at__isnull=True, store__isnull=False
        ).values_list("store_id", flat=True)
    )
    added, removed = sorted(wanted - have), sorted(have - wanted)
    if removed:
        supersede(incident, at=at, store_ids=removed)
    if added:
        issue(incident, attached, at=at, store_ids=added)
    if added or removed:
        # A store that was dropped and comes back gets a fresh checklist for the plan.
        record_timeline_event(
            incident,
            "checklist",
            f"Checklists follow the affected stores: {len(added)} added, {len(removed)} withdrawn.",
            actor=actor,
            at=at,
        )
    return {"added": len(added), "removed": len(removed)}


def _current(checklist_id: int) -> Checklist:
    checklist = (
        # Lock the checklist row only: the store is on the nullable side of the join
        # (team checklists have none), which PostgreSQL cannot lock.
        Checklist.objects.select_for_update(of=("self",))
        .select_related("incident", "store")
        .filter(pk=checklist_id)
        .first()
    )
    if checklist is None:
        raise DomainError("That checklist does not exist")
    if checklist.superseded_at is not None:
        raise Conflict(
            "HQ has moved to another plan: this checklist was replaced. Reload for the new steps."
        )
    if not checklist.incident.is_open:
        raise Conflict("The incident is over; nothing more to tick")
    return checklist


def _who(checklist: Checklist) -> str:
    return checklist.store.code if checklist.store_id else checklist.get_team_display()


@transaction.atomic
def acknowledge(checklist: Checklist, *, actor: Actor = SYSTEM, at=None) -> Checklist:
    """The store (or team) has read the plan. Ticking a first step also acknowledges."""
    at = at or timezone.now()
    checklist = _current(checklist.pk)
    if checklist.acknowledged_at is None:
        _acknowledge(checklist, actor, at)
    return checklist


def _acknowledge(checklist: Checklist, actor: Actor, at) -> None:
    checklist.acknowledged_at = at
    checklist.acknowledged_by = actor.name
    checklist.save(update_fields=["acknowledged_at", "acknowledged_by"])
    record_timeline_event(
        checklist.incident,
        "checklist",
        f"{_who(checklist)} acknowledged {checklist.plan_name}.",
        actor=actor,
        at=at,
        data={
            "checklist": checklist.pk,
            "store": checklist.store.code if checklist.store_id else "",
        },
    )


@transaction.atomic
def tick(
    step: ChecklistStep, *, done: bool = True, actor: Actor = SYSTEM, at=None
) -> ChecklistStep:
    """Mark a step done (or not done after all); the timeline records it."""
    at = at or timezone.now()
    checklist = _current(step.checklist_id)
    step = ChecklistStep.objects.select_for_update().get(pk=step.pk)
    if (step.done_at is not None) == done:
        return step  # a second tap (or a resent form) changes nothing
    if checklist.acknowledged_at is None:
        _acknowledge(checklist, actor, at)
    step.done_at = at if done else None
    step.done_by = actor.name if done else ""
    step.save(update_fields=["done_at", "done_by"])
    record_timeline_event(
        checklist.incident,
        "checklist",
        f"{_who(checklist)} {'ticked' if done else 'un-ticked'}: {step.text}",
        actor=actor,
        at=at,
        data={"checklist": checklist.pk, "step": step.pk, "done": done},
    )
    checklist.steps_done += 1 if done else -1
    finished = at if checklist.steps_done >= checklist.steps_total else None
    just_finished = finished is not None and checklist.done_at is None
    checklist.done_at = finished
    if finished:
        checklist.stuck_at = None
    checklist.save(update_fields=["steps_done", "done_at", "stuck_at"])
    if just_finished:
        record_timeline_event(
            checklist.incident,
            "checklist",
            f"{_who(checklist)} finished every step of {checklist.plan_name}.",
            actor=actor,
            at=at,
            data={"checklist": checklist.pk},
        )
    return step


@transaction.atomic
def mark_stuck(checklist: Checklist, note: str, *, actor: Actor = SYSTEM, at=None) -> Checklist:
    """The store cannot carry on with the plan; ``note`` says why. Shown to the commander."""
    at = at or timezone.now()
    note = clean_text(note).strip()
    if not note:
        raise DomainError("Say in a few words what is stopping you", field="note")
    if len(note) > MAX_NOTE:
        raise DomainError(f"Keep it under {MAX_NOTE} characters", field="note")
    checklist = _current(checklist.pk)
    if checklist.acknowledged_at is None:
        _acknowledge(checklist, actor, at)
    checklist.stuck_at = at
    checklist.stuck_note = note
    checklist.save(update_fields=["stuck_at", "stuck_note"])
    record_timeline_event(
        checklist.incident,
        "checklist",
        f"{_who(checklist)} is stuck on {checklist.plan_name}: {note}",
        actor=actor,
        at=at,
        data={"checklist": checklist.pk, "stuck": True},
    )
    return checklist


@transaction.atomic
def unstick(checklist: Checklist, *, actor: Actor = SYSTEM, at=None) -> Checklist:
    at = at or timezone.now()
    checklist = _current(checklist.pk)
    if checklist.stuck_at is not None:
        checklist.stuck_at = None
        checklist.save(update_fields=["stuck_at"])
        record_timeline_event(
            checklist.incident,
            "checklist",
            f"{_who(checklist)} is no longer stuck.",
            actor=actor,
            at=at,
        )
    return checklist


@transaction.atomic
def nudge_unacknowledged(
    incident: Incident, *, older_than_minutes: int, actor: Actor = SYSTEM, at=None
) -> list[Store]:
    """Nudge every store that has not acknowledged the plan within ``older_than_minutes``: its
    store page shows the nudge, its count goes up, the timeline notes it and
    store's managers are told by e-mail and SMS (runbooks/nudges.py) and
    ``runbooks.stores_nudged`` is published. Stores nudged in the last minute are left out, so a
    double tap nudges once; an empty list means every waiting store was just nudged."""
    at = at or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if not incident.is_open:
        raise Conflict("This incident is closed; reopen it to nudge stores")
    cutoff = at - timedelta(minutes=older_than_minutes)
    waiting = Checklist.objects.filter(
        incident=incident,
        superseded_at__isnull=True,
        store__isnull=False,
        acknowledged_at__isnull=True,
        issued_at__lte=cutoff,
    )
    if not waiting.exists():
        raise Conflict("Every store has acknowledged the plan (or was sent it only just now)")
    # The incident's row lock makes a second tap wait for the first and then find its nudges.
    waiting = waiting.filter(
        Q(nudged_at__isnull=True) | Q(nudged_at__lt=at - timedelta(seconds=REPEAT_SECONDS))
    )
    stores = list(Store.objects.filter(pk__in=waiting.values("store_id")).order_by("code"))
    if not stores:
        return []
    waiting.update(nudged_at=at, nudges=F("nudges") + 1)
    shown = ", ".join(s.code for s in stores[:20]) + (" …" if len(stores) > 20 else "")
    told, unreachable = nudges.tell_managers(incident, stores, at)
    text = (
        f"Nudged {len(stores)} store(s) that had not acknowledged after {older_than_minutes} min: "
        f"{shown}; {told} message(s) to their managers"
    )
    if unreachable:
        text += f" ({unreachable} store(s) with no manager to tell: the store page only)"
    record_timeline_event(
        incident,
        "checklist",
        text,
        actor=actor,
        at=at,
        data={"nudged": len(stores), "told": told, "unreachable": unreachable},
    )
    events.publish("runbooks.stores_nudged", incident=incident, stores=stores, actor=actor, at=at)
    return stores


def for_store(store: Store, incidents) -> dict[int, dict]:
    """For each incident: the plan in force and this store's current checklist (with steps)."""
    ids = [incident.pk for incident in incidents]
    attached = {
        a.incident_id: a
        for a in IncidentRunbook.objects.select_related("version").filter(incident_id__in=ids)
    }
    lists = {
        c.incident_id: c
        for c in Checklist.objects.filter(
            incident_id__in=ids, store=store, superseded_at__isnull=True
        ).prefetch_related("steps")
    }
    return {
        pk: {"plan": attached[pk].plan if pk in attached else None, "checklist": lists.get(pk)}
        for pk in ids
    }
