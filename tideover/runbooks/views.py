"""Runbook pages: the list, one runbook with its versions, writing and editing."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability, has_capability
from tideover.runbooks import services
from tideover.runbooks.defaults import DEFAULT_RUNBOOKS
from tideover.runbooks.forms import NewRunbookForm, RunbookTextForm
from tideover.runbooks.models import Audience, Runbook, RunbookVersion


def _error_on(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def plan_sections(plans: list[dict]) -> list[dict]:
    """Plans with their steps in audience order and readable audience names, for templates."""
    shown = []
    for plan in plans:
        steps = [
            {"audience": label, "items": plan["steps"][value]}
            for value, label in Audience.choices
            if plan["steps"].get(value)
        ]
        shown.append({**plan, "audiences": steps})
    return shown


@capability_required(Capability.VIEW_CONSOLE)
def runbook_list(request):
    runbooks = list(
        Runbook.objects.select_related("component", "severity").prefetch_related("versions")
    )
    for runbook in runbooks:
        runbook.latest = max(runbook.versions.all(), key=lambda v: v.number, default=None)
    from tideover.core.models import Component

    covered = {r.component_id for r in runbooks}
    missing_defaults = Component.objects.filter(slug__in=DEFAULT_RUNBOOKS).exclude(pk__in=covered)
    return render(
        request,
        "runbooks/list.html",
        {
            "runbooks": runbooks,
            "missing_defaults": list(missing_defaults),
            "may_edit": has_capability(request.user, Capability.MANAGE_RUNBOOKS),
        },
    )


@capability_required(Capability.MANAGE_RUNBOOKS)
@require_POST
def add_shipped(request):
    made = services.ensure_default_runbooks()
    messages.success(request, f"Added {len(made)} shipped runbook(s).")
    return redirect("runbooks:list")


@capability_required(Capability.MANAGE_RUNBOOKS)
def new_runbook(request):
    form = NewRunbookForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                runbook = services.create_runbook(
                    component=data["component"],
                    severity=data["severity"],
                    title=data["title"],
                    text=data["text"],
                    note=data["note"],
                    actor=Actor.of(request.user),
                )
            except DomainError as exc:
                _error_on(form, exc)
                return render(request, "runbooks/edit.html", {"form": form}, status=exc.status_code)
            messages.success(request, f"Runbook saved: {runbook.title}, version 1.")
            return redirect("runbooks:detail", runbook_id=runbook.pk)
        return render(request, "runbooks/edit.html", {"form": form}, status=400)
    return render(request, "runbooks/edit.html", {"form": form})


def _show(request, runbook: Runbook, version: RunbookVersion | None):
    return render(
        request,
        "runbooks/detail.html",
        {
            "runbook": runbook,
            "version": version,
            "plans": plan_sections(version.plans) if version else [],
            "versions": list(runbook.versions.all()),
            "may_edit": has_capability(request.user, Capability.MANAGE_RUNBOOKS),
        },
    )


@capability_required(Capability.VIEW_CONSOLE)
def runbook_detail(request, runbook_id: int):
    runbook = get_object_or_404(
        Runbook.objects.select_related("component", "severity"), pk=runbook_id
    )
    return _show(request, runbook, runbook.latest_version())


@capability_required(Capability.VIEW_CONSOLE)
def runbook_version(request, runbook_id: int, number: int):
    runbook = get_object_or_404(
        Runbook.objects.select_related("component", "severity"), pk=runbook_id
    )
    version = get_object_or_404(RunbookVersion, runbook=runbook, number=number)
    return _show(request, runbook, version)


@capability_required(Capability.MANAGE_RUNBOOKS)
def edit_runbook(request, runbook_id: int):
    runbook = get_object_or_404(
        Runbook.objects.select_related("component", "severity"), pk=runbook_id
    )
    latest = runbook.latest_version()
    if request.method != "POST":
        form = RunbookTextForm(
            initial={"title": runbook.title, "text": latest.text if latest else ""}
        )
        return render(request, "runbooks/edit.html", {"form": form, "runbook": runbook})
    form = RunbookTextForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            version = services.save_version(
                runbook,
                text=data["text"],
                title=data["title"],
                note=data["note"],
                actor=Actor.of(request.user),
            )
        except DomainError as exc:
            _error_on(form, exc)
            return render(
                request,
                "runbooks/edit.html",
                {"form": form, "runbook": runbook},
                status=exc.status_code,
            )
        messages.success(
            request,
            f"Saved as version {version.number}. Incidents already running keep their version.",
        )
        return redirect("runbooks:detail", runbook_id=runbook.pk)
    return render(request, "runbooks/edit.html", {"form": form, "runbook": runbook}, status=400)
