"""Editing a postmortem's action items."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import DomainError
from tideover.incidents.models import Incident
from tideover.incidents.services.repeats import REPEAT_SECONDS
from tideover.postmortems.models import ActionItem


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError("Say what must be done", field="text")
    if len(text) > 500:
        raise DomainError("Keep an action item under 500 characters", field="text")
    return text


@transaction.atomic
def add_action_item(
    incident: Incident,
    *,
    text: str,
    owner: str = "",
    due_on: date | None = None,
    actor: Actor = SYSTEM,
    once: bool = False,
) -> ActionItem:
    """Add an action item to the postmortem. ``once`` (a person's form): the same text and owner
    from the same person within a minute is the item already added, not a duplicate (as for
    incident forms, incidents/services/repeats.py); imports and scripts leave it off."""
    text = _clean(text)
    owner = owner.strip()[:150]
    created_by = actor.name[:150]
    if once:
        # Adding items to one postmortem takes turns, so a form sent twice finds the first item.
        Incident.objects.select_for_update(no_key=True).filter(pk=incident.pk).exists()
        since = timezone.now() - timedelta(seconds=REPEAT_SECONDS)
        repeat = (
            ActionItem.objects.filter(
                incident=incident,
                text=text,
                owner=owner,
                created_by=created_by,
                created_at__gte=since,
            )
            .order_by("created_at", "pk")
            .first()
        )
        if repeat is not None:
            return repeat
    return ActionItem.objects.create(
        incident=incident, text=text, owner=owner, due_on=due_on, created_by=created_by
    )


@transaction.atomic
def update_action_item(
    item: ActionItem, *, text: str, owner: str = "", due_on: date | None = None, done: bool = False
) -> ActionItem:
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    item.text = _clean(text)
    item.owner = owner.strip()[:150]
    item.due_on = due_on
    if done and item.done_at is None:
        item.done_at = timezone.now()
    elif not done:
        item.done_at = None
    item.save()
    return item


@transaction.atomic
def remove_action_item(item: ActionItem) -> None:
    ActionItem.objects.filter(pk=item.pk).delete()
