"""The store page for associates: what is happening, what to do, what to say, and a way to
tell HQ. Plain forms and links only (no JavaScript), one column, big buttons, small pages.

A store's staff see only their own store; any other store answers 404 (not 403), so store
codes cannot be probed.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required, own_store
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.models import Store
from tideover.core.roles import Capability, has_capability
from tideover.frontline import services as frontline
from tideover.incidents.models import Incident, PublicUpdate
from tideover.runbooks import checklists
from tideover.runbooks.models import Checklist, ChecklistStep
from tideover.storeview.forms import ReportForm, StuckForm


def _store(request, store_code: str) -> Store:
    return own_store(request, store_code, Store.objects.select_related("region"))


def _recovery_links(store: Store) -> dict | None:
    if not apps.is_installed("tideover.recovery"):
        return None
    kwargs = {"store_code": store.code}
    return {
        "capture": reverse("recovery:capture", kwargs=kwargs),
        "qr": reverse("recovery:store_qr", kwargs=kwargs),
    }


def _page(request, store: Store, status: int = 200, stuck_form=None):
    incidents = list(
        Incident.objects.incidents()
        .open()
        .affecting(store)
        .select_related("severity")
        .order_by("severity__level", "-declared_at")
    )
    plans = checklists.for_store(store, incidents)
    latest = {}
    for update in PublicUpdate.objects.filter(incident__in=incidents).order_by("-posted_at", "-pk"):
        latest.setdefault(update.incident_id, update)
    for incident in incidents:
        incident.plan = plans[incident.pk]["plan"]
        incident.checklist = plans[incident.pk]["checklist"]
        incident.told_customers = latest.get(incident.pk)
    context = {
        "store": store,
        "incidents": incidents,
        "said": frontline.answered_for_store(store),
        "recovery": _recovery_links(store) if incidents else None,
        "may_report": has_capability(request.user, Capability.REPORT_PROBLEM),
        "stuck_form": stuck_form or StuckForm(),
    }
    return render(request, "storeview/store.html", context, status=status)


@capability_required(Capability.VIEW_STORE)
def store(request, store_code: str):
    return _page(request, _store(request, store_code))


def _back(store: Store, anchor: str = ""):
    url = reverse("storeview:store", kwargs={"store_code": store.code})
    return redirect(f"{url}#{anchor}" if anchor else url)


def _checklist(store: Store, checklist_id: int) -> Checklist:
    return get_object_or_404(Checklist, pk=checklist_id, store=store)


@capability_required(Capability.VIEW_STORE)
@require_POST
def acknowledge(request, store_code: str, checklist_id: int):
    store = _store(request, store_code)
    try:
        checklists.acknowledge(_checklist(store, checklist_id), actor=Actor.of(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return _page(request, store, status=exc.status_code)
    messages.success(request, "Thanks: HQ can see your store has the plan.")
    return _back(store, f"checklist-{checklist_id}")


@capability_required(Capability.VIEW_STORE)
@require_POST
def tick(request, store_code: str, step_id: int):
    store = _store(request, store_code)
    step = get_object_or_404(ChecklistStep, pk=step_id, checklist__store=store)
    done = request.POST.get("done") != "0"
    try:
        checklists.tick(step, done=done, actor=Actor.of(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return _page(request, store, status=exc.status_code)
    return _back(store, f"step-{step.pk}")


@capability_required(Capability.VIEW_STORE)
@require_POST
def stuck(request, store_code: str, checklist_id: int):
    store = _store(request, store_code)
    checklist = _checklist(store, checklist_id)
    form = StuckForm(request.POST)
    if not form.is_valid():
        return _page(request, store, status=400, stuck_form=form)
    try:
        checklists.mark_stuck(checklist, form.cleaned_data["note"], actor=Actor.of(request.user))
    except DomainError as exc:
        form.add_error("note", exc.message)
        return _page(request, store, status=exc.status_code, stuck_form=form)
    messages.success(request, "HQ can see you are stuck and why.")
    return _back(store, f"checklist-{checklist_id}")


@capability_required(Capability.REPORT_PROBLEM)
def report(request, store_code: str, kind: str):
    store = _store(request, store_code)
    template = "storeview/report.html"
    if request.method != "POST":
        return render(request, template, {"store": store, "kind": kind, "form": ReportForm(kind)})
    form = ReportForm(kind, request.POST, request.FILES)
    if not form.is_valid():
        return render(request, template, {"store": store, "kind": kind, "form": form}, status=400)
    try:
        frontline.submit_report(
            kind=kind,
            category=form.cleaned_data["category"],
            text=form.cleaned_data["text"],
            photo=form.cleaned_data.get("photo"),
            store=store,
            reporter=request.user,
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render(
            request, template, {"store": store, "kind": kind, "form": form}, status=exc.status_code
        )
    messages.success(request, "Sent to HQ. Their answer will show on this page.")
    return _back(store, "said")
