"""Console pages: signals at a glance, alerts with their evidence, social posts, and what the
detectors saw for an incident. Charts are server-rendered SVG (no JavaScript needed)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability, has_capability
from tideover.detect import charts, services
from tideover.detect.models import LIVE_ALERT_STATES, Alert, Signal, SocialPost
from tideover.incidents.models import Severity

HOURS_CHOICES = (1, 6, 24, 72)


def _latest(signal_ids=None):
    """The end of the charts: the newest scored minute (the demo's clock may not be now)."""
    query = Signal.objects.filter(scored_until__isnull=False)
    if signal_ids is not None:
        query = query.filter(pk__in=signal_ids)
    newest = query.order_by("-scored_until").values_list("scored_until", flat=True).first()
    return newest or services.minute_of(timezone.now())


@capability_required(Capability.VIEW_SIGNALS)
def signals(request):
    try:
        hours = int(request.GET.get("hours", 6))
    except ValueError:
        hours = 6
    hours = hours if hours in HOURS_CHOICES else 6
    end = _latest()
    start = end - timedelta(hours=hours)
    rows = []
    for signal in Signal.objects.filter(is_active=True, store__isnull=True):
        rows.append({"signal": signal, "chart": charts.signal_chart(signal, start, end)})
    live = Alert.objects.filter(state__in=LIVE_ALERT_STATES).count()
    return render(
        request,
        "detect/signals.html",
        {
            "rows": rows,
            "hours": hours,
            "choices": HOURS_CHOICES,
            "end": end,
            "live": live,
            "may_manage": has_capability(request.user, Capability.MANAGE_SIGNALS),
        },
    )


@capability_required(Capability.VIEW_SIGNALS)
def signal_detail(request, slug: str):
    signal = get_object_or_404(Signal, slug=slug)
    end = _latest([signal.pk])
    start = end - timedelta(hours=24)
    members = []
    if signal.family and signal.store_id is None:
        members = list(
            Signal.objects.filter(family=signal.family, store__isnull=False)
            .select_related("store")
            .order_by("store__code")[:500]
        )
    return render(
        request,
        "detect/signal.html",
        {
            "signal": signal,
            "chart": charts.signal_chart(signal, start, end),
            "alerts": Alert.objects.filter(signals=signal)[:20],
            "rules": signal.rules.all(),
            "members": members,
            "may_manage": has_capability(request.user, Capability.MANAGE_SIGNALS),
        },
    )


@capability_required(Capability.VIEW_SIGNALS)
def alerts(request):
    show = request.GET.get("show", "live")
    query = Alert.objects.prefetch_related("signals")
    if show == "live":
        query = query.filter(state__in=LIVE_ALERT_STATES)
    return render(request, "detect/alerts.html", {"alerts": query[:200], "show": show})


class DeclareForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="In words a customer understands")
    severity = forms.ModelChoiceField(Severity.objects.all(), empty_label=None)
    message = forms.CharField(
        label="First public update",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Goes out at once; leave empty to post later",
    )


class DismissForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why this is not an outage")


def _alert_page(request, alert: Alert, status=200, **forms_):
    start, end = charts.window_around(alert)
    evidence_charts = [
        {"signal": s, "chart": charts.signal_chart(s, start, end, alerts=[alert])}
        for s in alert.signals.all()[:12]
    ]
    draft = services.draft_for(alert)
    context = {
        "alert": alert,
        "charts": evidence_charts,
        "draft": draft,
        "may_handle": has_capability(request.user, Capability.HANDLE_ALERTS),
        "may_declare": has_capability(request.user, Capability.DECLARE_INCIDENT),
        "declare_form": forms_.get("declare_form")
        or DeclareForm(
            initial={
                "title": alert.title,
                "severity": Severity.objects.filter(level=1 if draft.all_stores else 2).first(),
            }
        ),
        "dismiss_form": forms_.get("dismiss_form") or DismissForm(),
        "time_to_alert": alert.opened_at - alert.started_at,
    }
    return render(request, "detect/alert.html", context, status=status)


@capability_required(Capability.VIEW_SIGNALS)
def alert_detail(request, alert_id: int):
    return _alert_page(request, get_object_or_404(Alert, pk=alert_id))


@require_POST
@capability_required(Capability.HANDLE_ALERTS)
def acknowledge(request, alert_id: int):
    alert = get_object_or_404(Alert, pk=alert_id)
    try:
        services.acknowledge_alert(alert, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("detect:alert", alert_id=alert.pk)


@require_POST
@capability_required(Capability.HANDLE_ALERTS)
def dismiss(request, alert_id: int):
    alert = get_object_or_404(Alert, pk=alert_id)
    form = DismissForm(request.POST)
    if not form.is_valid():
        return _alert_page(request, alert, status=400, dismiss_form=form)
    try:
        services.dismiss_alert(alert, form.cleaned_data["reason"], user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Dismissed: this cause will not page again this week")
    return redirect("detect:alert", alert_id=alert.pk)


@require_POST
@capability_required(Capability.HANDLE_ALERTS)
def declare(request, alert_id: int):
    if not has_capability(request.user, Capability.DECLARE_INCIDENT):
        raise PermissionDenied(f"Your role does not allow: {Capability.DECLARE_INCIDENT.label}")
    alert = get_object_or_404(Alert, pk=alert_id)
    form = DeclareForm(request.POST)
    if not form.is_valid():
        return _alert_page(request, alert, status=400, declare_form=form)
    try:
        incident = services.declare_from_alert(
            alert,
            severity=form.cleaned_data["severity"],
            title=form.cleaned_data["title"],
            message=form.cleaned_data["message"],
            actor=Actor.of(request.user),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("detect:alert", alert_id=alert.pk)
    messages.success(request, f"Declared {incident.severity.name}: {incident.title}")
    return redirect("incidents:detail", incident_id=incident.pk)


@capability_required(Capability.VIEW_SIGNALS)
def posts(request):
    complaints_only = request.GET.get("all") != "1"
    query = SocialPost.objects.select_related("store")
    if complaints_only:
        query = query.filter(complaint=True)
    return render(
        request,
        "detect/posts.html",
        {
            "posts": query[:200],
            "complaints_only": complaints_only,
            # Handles are personal: only the social team sees who posted.
            "show_handles": has_capability(request.user, Capability.VIEW_SOCIAL_HANDLES),
        },
    )
