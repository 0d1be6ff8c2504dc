"""The postmortem page: the generated draft, its Markdown file, and the editable action items."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.incidents.models import Incident
from tideover.postmortems import services
from tideover.postmortems.draft import draft
from tideover.postmortems.forms import ActionItemForm
from tideover.postmortems.models import ActionItem


def _incident(incident_id: int) -> Incident:
    return get_object_or_404(
        Incident.objects.incidents().select_related("severity", "commander", "comms_lead"),
        pk=incident_id,
    )


def _page(request, incident: Incident, status: int = 200, form=None):
    items = list(ActionItem.objects.filter(incident=incident))
    for item in items:
        item.form = ActionItemForm(
            initial={
                "text": item.text,
                "owner": item.owner,
                "due_on": item.due_on,
                "done": bool(item.done_at),
            },
            prefix=f"item{item.pk}",
        )
    return render(
        request,
        "postmortems/postmortem.html",
        {
            "incident": incident,
            "markdown": draft(incident),
            "items": items,
            "form": form or ActionItemForm(),
        },
        status=status,
    )


@capability_required(Capability.WRITE_POSTMORTEM)
def postmortem(request, incident_id: int):
    return _page(request, _incident(incident_id))


@capability_required(Capability.WRITE_POSTMORTEM)
def export(request, incident_id: int):
    incident = _incident(incident_id)
    response = HttpResponse(draft(incident), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="postmortem-{incident.pk}.md"'
    return response


@capability_required(Capability.WRITE_POSTMORTEM)
@require_POST
def add_item(request, incident_id: int):
    incident = _incident(incident_id)
    form = ActionItemForm(request.POST)
    if not form.is_valid():
        return _page(request, incident, status=400, form=form)
    data = form.cleaned_data
    try:
        services.add_action_item(
            incident,
            text=data["text"],
            owner=data["owner"],
            due_on=data["due_on"],
            actor=Actor.of(request.user),
            once=True,
        )
    except DomainError as exc:
        form.add_error("text", exc.message)
        return _page(request, incident, status=exc.status_code, form=form)
    messages.success(request, "Action item added.")
    return redirect("postmortems:postmortem", incident_id=incident.pk)


@capability_required(Capability.WRITE_POSTMORTEM)
@require_POST
def edit_item(request, item_id: int):
    item = get_object_or_404(ActionItem, pk=item_id)
    form = ActionItemForm(request.POST, prefix=f"item{item.pk}")
    incident = _incident(item.incident_id)
    if not form.is_valid():
        messages.error(request, "Write the action (up to 500 characters); the date as YYYY-MM-DD.")
        return _page(request, incident, status=400)
    data = form.cleaned_data
    try:
        services.update_action_item(
            item, text=data["text"], owner=data["owner"], due_on=data["due_on"], done=data["done"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _page(request, incident, status=exc.status_code)
    messages.success(request, "Action item saved.")
    return redirect("postmortems:postmortem", incident_id=incident.pk)


@capability_required(Capability.WRITE_POSTMORTEM)
@require_POST
def remove_item(request, item_id: int):
    item = get_object_or_404(ActionItem, pk=item_id)
    services.remove_action_item(item)
    messages.success(request, "Action item removed.")
    return redirect("postmortems:postmortem", incident_id=item.incident_id)
