"""Editing a postmortem's action items."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import DomainError
from tideover.incidents.models import Incident
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
) -> ActionItem:
    return ActionItem.objects.create(
        incident=incident,
        text=_clean(text),
        owner=owner.strip()[:150],
        due_on=due_on,
        created_by=actor.name,
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
