"""Console: points held for review (one sale earning more than the review size)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.loyalty import holds
from tideover.loyalty.config import program
from tideover.loyalty.forms import DecisionForm
from tideover.loyalty.models import HeldPoints, HoldState


@capability_required(Capability.REVIEW_HELD_POINTS)
def held_list(request):
    queue = HeldPoints.objects.select_related("member")
    return render(
        request,
        "loyalty/held.html",
        {
            "pending": queue.filter(state=HoldState.PENDING).order_by("held_at", "pk")[:200],
            "recent": queue.exclude(state=HoldState.PENDING)[:50],
            "review_points": program().sale_points_review,
        },
    )


@require_POST
@capability_required(Capability.REVIEW_HELD_POINTS)
def held_decide(request, hold_id: int):
    hold = get_object_or_404(HeldPoints, pk=hold_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject")
        return redirect("loyalty:held")
    actor = Actor.of(request.user)
    try:
        if form.cleaned_data["decision"] == "approve":
            holds.approve(hold, actor=actor, note=form.cleaned_data["note"])
            messages.success(request, f"{hold.points:,} points for sale {hold.sale_id} posted")
        else:
            holds.reject(hold, actor=actor, note=form.cleaned_data["note"])
            messages.success(request, f"Points for sale {hold.sale_id} rejected")
    except DomainError as exc:
        if exc.status_code == 403:
            raise DjangoPermissionDenied(exc.message) from None
        messages.error(request, exc.message)
    return redirect("loyalty:held")
