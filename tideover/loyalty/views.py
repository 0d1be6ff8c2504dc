"""Customer-service console: find a member, see their points, fix them (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability, has_capability
from tideover.loyalty import adjustments, audit, members, statements
from tideover.loyalty.config import program
from tideover.loyalty.forms import AdjustmentForm, DecisionForm, SearchForm
from tideover.loyalty.models import Adjustment, AdjustmentState, Member


def _actor(request) -> Actor:
    return Actor.of(request.user)


def _add_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@capability_required(Capability.VIEW_MEMBERS)
def search(request):
    form = SearchForm(request.GET or None)
    found = result = None
    status = 200
    page = request.GET.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    if form.is_bound and form.is_valid():
        try:
            result = members.find_members(form.cleaned_data["q"], actor=_actor(request), page=page)
        except DomainError as exc:
            _add_error(form, exc)
            status = 400
        else:
            found = result.members
            if len(found) == 1 and page == 1 and not result.has_more:
                return redirect("loyalty:member", loyalty_id=found[0].loyalty_id)
    elif form.is_bound:
        status = 400
    context = {"form": form, "found": found, "result": result}
    return render(request, "loyalty/search.html", context, status=status)


def _member_page(request, member: Member, form=None, status=200):
    audit.record(_actor(request), "member_viewed", member, "console")
    return render(
        request,
        "loyalty/member.html",
        {
            "member": member,
            "entries": statements.statement(member, limit=200),
            "rewards": statements.pending_rewards(member),
            "lots": statements.upcoming_expiry(member),
            "notices": member.notices.all()[:50],
            "adjustments": member.adjustments.all()[:50],
            "form": form or AdjustmentForm(),
            "can_adjust": has_capability(request.user, Capability.ADJUST_POINTS),
            "approval_points": program().approval_points,
        },
        status=status,
    )


@capability_required(Capability.VIEW_MEMBERS)
def member(request, loyalty_id: str):
    return _member_page(request, get_object_or_404(Member, loyalty_id=loyalty_id.upper()))


@require_POST
@capability_required(Capability.ADJUST_POINTS)
def adjust(request, loyalty_id: str):
    found = get_object_or_404(Member, loyalty_id=loyalty_id.upper())
    form = AdjustmentForm(request.POST)
    if not form.is_valid():
        return _member_page(request, found, form, status=400)
    try:
        done = adjustments.request_adjustment(
            found,
            form.cleaned_data["points"],
            form.cleaned_data["reason_code"],
            form.cleaned_data["note"],
            actor=_actor(request),
        )
    except DomainError as exc:
        _add_error(form, exc)
        return _member_page(request, found, form, status=exc.status_code)
    if done.state == AdjustmentState.PENDING:
        messages.info(request, f"{done.points:+d} points wait for a second person to approve")
    else:
        messages.success(request, f"{done.points:+d} points posted")
    return redirect("loyalty:member", loyalty_id=found.loyalty_id)


@capability_required(Capability.VIEW_MEMBERS)
def adjustment_list(request):
    pending = Adjustment.objects.select_related("member").filter(state=AdjustmentState.PENDING)
    recent = Adjustment.objects.select_related("member").exclude(state=AdjustmentState.PENDING)[:50]
    return render(
        request,
        "loyalty/adjustments.html",
        {
            "pending": pending,
            "recent": recent,
            "can_approve": has_capability(request.user, Capability.APPROVE_ADJUSTMENT),
        },
    )


@require_POST
@capability_required(Capability.APPROVE_ADJUSTMENT)
def decide(request, adjustment_id: int):
    adjustment = get_object_or_404(Adjustment, pk=adjustment_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject")
        return redirect("loyalty:adjustments")
    try:
        if form.cleaned_data["decision"] == "approve":
            adjustments.approve_adjustment(
                adjustment, actor=_actor(request), note=form.cleaned_data["note"]
            )
            messages.success(request, f"Adjustment #{adjustment.pk} approved and posted")
        else:
            adjustments.reject_adjustment(
                adjustment, actor=_actor(request), note=form.cleaned_data["note"]
            )
            messages.success(request, f"Adjustment #{adjustment.pk} rejected")
    except DomainError as exc:
        if exc.status_code == 403:
            raise DjangoPermissionDenied(exc.message)
        messages.error(request, exc.message)
    return redirect("loyalty:adjustments")
