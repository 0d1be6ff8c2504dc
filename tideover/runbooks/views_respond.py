"""The commander's response pages: every open incident's plan, progress across stores and
teams, moving to the next plan, nudging silent stores, ticking team steps."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from tideover.core import nav
from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability, has_capability
from tideover.incidents.models import Incident, IncidentKind
from tideover.runbooks import checklists, services
from tideover.runbooks.forms import AttachForm, MovePlanForm, NudgeForm
from tideover.runbooks.models import ChecklistStep, IncidentRunbook
from tideover.runbooks.progress import progress
from tideover.runbooks.views import plan_sections

ATTENTION_ROWS = 50


@capability_required(Capability.VIEW_RESPONSE)
def overview(request):
    now = timezone.now()
    incidents = list(
        Incident.objects.incidents()
        .open()
        .select_related("severity", "runbook__version__runbook")
        .order_by("severity__level", "-declared_at")
    )
    for incident in incidents:
        attached = getattr(incident, "runbook", None) if _has_runbook(incident) else None
        incident.plan = attached.plan if attached else None
        incident.summary = progress(
            incident, now=now, silent_after_minutes=settings.RESPOND_SILENT_AFTER_MINUTES
        )
    return render(
        request,
        "runbooks/overview.html",
        {"incidents": incidents},
    )


def _caps(user) -> set[str]:
    return {c.value for c in Capability if has_capability(user, c)}


def _has_runbook(incident) -> bool:
    try:
        incident.runbook  # noqa: B018 - the reverse one-to-one raises when absent
    except IncidentRunbook.DoesNotExist:
        return False
    return True


def render_progress(request, incident: Incident, status: int = 200, **forms):
    now = timezone.now()
    attached = (
        IncidentRunbook.objects.select_related("version__runbook").filter(incident=incident).first()
    )
    caps = _caps(request.user)
    summary = progress(
        incident, now=now, silent_after_minutes=settings.RESPOND_SILENT_AFTER_MINUTES
    )
    show_all = request.GET.get("stores") == "all"
    # On a phone, hundreds of rows help nobody: the first ones, then a link to every store.
    limit = None if show_all else ATTENTION_ROWS
    context = {
        "incident": incident,
        "attached": attached,
        "progress": summary,
        "show_all": show_all,
        "stuck_shown": summary.stuck_stores[:limit],
        "silent_shown": summary.silent[:limit],
        "hidden_attention": 0
        if show_all
        else max(0, len(summary.stuck_stores) - ATTENTION_ROWS)
        + max(0, len(summary.silent) - ATTENTION_ROWS),
        "may_direct": Capability.MANAGE_RUNBOOKS in caps and incident.is_open,
        "links": nav.incident_links_for(incident, caps),
    }
    if attached is not None:
        context["plan"] = plan_sections([attached.plan])[0]
        context["next_plan"] = attached.next_plan
        if context["may_direct"]:
            context.setdefault(
                "move_form",
                MovePlanForm(
                    attached.plans,
                    attached.plan_index,
                    initial={"plan": min(attached.plan_index + 1, len(attached.plans) - 1)},
                ),
            )
    elif context["may_direct"]:
        context["attach_form"] = AttachForm()
    if context["may_direct"]:
        context["nudge_form"] = NudgeForm(
            initial={"minutes": settings.RESPOND_SILENT_AFTER_MINUTES}
        )
    context.update(forms)
    return render(request, "runbooks/progress.html", context, status=status)


def _incident(incident_id: int) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("severity").filter(kind=IncidentKind.INCIDENT),
        pk=incident_id,
    )


@capability_required(Capability.VIEW_RESPONSE)
def incident_progress(request, incident_id: int):
    return render_progress(request, _incident(incident_id))


def _back(incident: Incident, anchor: str = ""):
    url = reverse("runbooks:progress", kwargs={"incident_id": incident.pk})
    return redirect(f"{url}#{anchor}" if anchor else url)


@capability_required(Capability.MANAGE_RUNBOOKS)
@require_POST
def move_plan(request, incident_id: int):
    incident = _incident(incident_id)
    attached = IncidentRunbook.objects.select_related("version").filter(incident=incident).first()
    if attached is None:
        messages.error(request, "Attach a runbook first.")
        return render_progress(request, incident, status=409)
    form = MovePlanForm(attached.plans, attached.plan_index, request.POST)
    if not form.is_valid():
        return render_progress(request, incident, status=400, move_form=form)
    try:
        services.move_to_plan(
            incident,
            form.cleaned_data["plan"],
            reason=form.cleaned_data["reason"],
            actor=Actor.of(request.user),
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render_progress(request, incident, status=exc.status_code, move_form=form)
    messages.success(request, "Plan changed; every store and team has the new steps.")
    return _back(incident, "plan")


@capability_required(Capability.MANAGE_RUNBOOKS)
@require_POST
def attach(request, incident_id: int):
    incident = _incident(incident_id)
    form = AttachForm(request.POST)
    if not form.is_valid():
        return render_progress(request, incident, status=400, attach_form=form)
    version = form.cleaned_data["runbook"].latest_version()
    if version is None or not incident.is_open:
        form.add_error(None, "That runbook has no version yet, or the incident is closed.")
        return render_progress(request, incident, status=409, attach_form=form)
    attached = services.attach_runbook(incident, version, actor=Actor.of(request.user))
    if attached is None:
        form.add_error(None, "This incident already has a runbook; move between its plans instead.")
        return render_progress(request, incident, status=409, attach_form=form)
    messages.success(request, "Runbook attached; the first plan went out.")
    return _back(incident, "plan")


@capability_required(Capability.MANAGE_RUNBOOKS)
@require_POST
def nudge(request, incident_id: int):
    incident = _incident(incident_id)
    form = NudgeForm(request.POST)
    if not form.is_valid():
        return render_progress(request, incident, status=400, nudge_form=form)
    try:
        stores = checklists.nudge_unacknowledged(
            incident, older_than_minutes=form.cleaned_data["minutes"], actor=Actor.of(request.user)
        )
    except DomainError as exc:
        form.add_error(None, exc.message)
        return render_progress(request, incident, status=exc.status_code, nudge_form=form)
    if stores:
        messages.success(
            request,
            f"Nudged {len(stores)} store(s); their managers are told by e-mail and SMS where "
            "their profiles have them (the timeline counts the messages).",
        )
    else:
        messages.info(request, "Those stores were just nudged; give them a minute.")
    return _back(incident, "silent")


@capability_required(Capability.VIEW_RESPONSE)
@require_POST
def tick_team_step(request, step_id: int):
    step = get_object_or_404(
        ChecklistStep.objects.select_related("checklist"), pk=step_id, checklist__store__isnull=True
    )
    incident = _incident(step.checklist.incident_id)
    try:
        checklists.tick(step, done=request.POST.get("done") != "0", actor=Actor.of(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return render_progress(request, incident, status=exc.status_code)
    return _back(incident, "teams")
