"""Console pages that set Detect up: a signal's name, unit, owner, stores, components and
sensitivity, and plain rules (below/above a value for so many minutes, declaring or not)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.detect import definitions
from tideover.detect.forms import RuleForm, SignalForm
from tideover.detect.models import Rule, Signal


def _saved(form, save) -> object | None:
    """Save through the service; its refusals appear next to the field they are about."""
    if not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _signal_page(request, signal: Signal | None):
    form = SignalForm(request.POST or None, instance=signal)
    if request.method == "POST":

        def save(data):
            data = dict(data)
            components = data.pop("components")
            if signal is not None:
                data.pop("slug", None)
                data.pop("kind", None)
            return definitions.save_signal(signal, components=components, **data)

        saved = _saved(form, save)
        if saved is not None:
            messages.success(request, f"Saved {saved.name}")
            return redirect("detect:signal", slug=saved.slug)
    status = 400 if form.errors else 200
    return render(
        request, "detect/signal_form.html", {"form": form, "signal": signal}, status=status
    )


@capability_required(Capability.MANAGE_SIGNALS)
def signal_new(request):
    return _signal_page(request, None)


@capability_required(Capability.MANAGE_SIGNALS)
def signal_edit(request, slug: str):
    return _signal_page(request, get_object_or_404(Signal, slug=slug))


def _rule_page(request, rule: Rule | None):
    initial = {}
    if rule is None and request.GET.get("signal"):
        initial["signal"] = Signal.objects.filter(slug=request.GET["signal"]).first()
    form = RuleForm(request.POST or None, instance=rule, initial=initial)
    if request.method == "POST":
        saved = _saved(form, lambda data: definitions.save_rule(rule, **data))
        if saved is not None:
            messages.success(request, f"Saved the rule {saved.name}")
            return redirect("detect:signal", slug=saved.signal.slug)
    status = 400 if form.errors else 200
    return render(request, "detect/rule_form.html", {"form": form, "rule": rule}, status=status)


@capability_required(Capability.MANAGE_SIGNALS)
def rule_new(request):
    return _rule_page(request, None)


@capability_required(Capability.MANAGE_SIGNALS)
def rule_edit(request, rule_id: int):
    return _rule_page(request, get_object_or_404(Rule, pk=rule_id))
