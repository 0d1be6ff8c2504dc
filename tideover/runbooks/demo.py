"""The stores' side of the demo outage (``attach(runner)`` inside the scenario replay): stores
acknowledge the plan, work through it, a few get stuck, one reports problems and what customers
say, and customer service answers. All at the scenario's clock, through the services."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model

from tideover.core.actors import Actor
from tideover.runbooks import checklists
from tideover.runbooks.models import Checklist

REPORTS = [
    (
        "problem",
        "registers",
        "Register 2 says offline but keeps selling; customers ask if they paid",
    ),
    ("insight", "customers-asking", "Lots of members asking whether today's points are lost"),
    ("problem", "card-payments", "Two contactless cards declined in a row; chip and PIN worked"),
    (
        "insight",
        "customers-upset",
        "A customer filmed the queue and posted it, upset about the wait",
    ),
]
ANSWER = "Thanks: points post by themselves when your store reconnects. Use the 'Say' lines."


def _store_lists(incident):
    return list(
        Checklist.objects.filter(incident=incident, store__isnull=False, superseded_at__isnull=True)
        .select_related("store")
        .order_by("store__code")
    )


def _minute(runner, at, since: int) -> None:
    """What the stores do ``since`` minutes after the plan reached them."""
    incident = runner.shift.incident
    lists = _store_lists(incident)
    count = len(lists)
    for index, checklist in enumerate(lists):
        actor = Actor(name=f"{checklist.store.code} manager")
        # Nine in ten stores acknowledge within 2-10 minutes, spread by store.
        if index % 10 != 9 and checklist.acknowledged_at is None and since == 2 + index % 9:
            checklists.acknowledge(checklist, actor=actor, at=at)
        # Seven in ten work through every step 12-25 minutes in.
        if index % 10 < 7 and since == 12 + index % 14:
            for step in checklist.steps.filter(done_at__isnull=True):
                checklists.tick(step, actor=actor, at=at)
    if since == 20:
        for checklist in [c for i, c in enumerate(lists) if i % 10 == 8][:3]:
            checklists.mark_stuck(
                checklist,
                "Only one till open and the cash float is running low",
                actor=Actor(name=f"{checklist.store.code} manager"),
                at=at,
            )
    if 12 <= since < 12 + len(REPORTS) and count:
        _report(incident, at, since - 12)


def _report(incident, at, n: int) -> None:
    from tideover.frontline import services as frontline

    associate = get_user_model().objects.filter(username="alex.associate").first()
    profile = getattr(associate, "staff_profile", None)
    if associate is None or profile is None or profile.store is None:
        return
    kind, category, text = REPORTS[n]
    report = frontline.submit_report(
        kind=kind, category=category, text=text, store=profile.store, reporter=associate, at=at
    )
    frontline.link_to_incident(report, incident)
    if n % 2 == 0:
        frontline.answer(
            report, ANSWER, actor=Actor(name="sam.service"), at=at + timedelta(minutes=3)
        )


def attach(runner) -> None:
    """Let the stores answer the plan minute by minute inside ``runner``'s replay."""
    original_tick = runner.tick
    state = {"declared": None}

    def tick(label: str, done: int, total: int) -> None:
        shift = runner.shift
        if shift.incident is not None and not shift.resolved:
            at = runner.start + timedelta(minutes=done)
            if state["declared"] is None:
                state["declared"] = at
            since = int((at - state["declared"]) / timedelta(minutes=1))
            if 0 < since <= 30:
                _minute(runner, at, since)
        original_tick(label, done, total)

    runner.tick = tick
