"""Console: the sales HQ refused as conflicts, for staff to settle."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.sales import services
from tideover.sales.models import Sale, SaleConflict


@capability_required(Capability.VIEW_SALES)
def conflicts(request):
    show_all = request.GET.get("all") == "1"
    query = SaleConflict.objects.select_related("reviewed_by")
    if not show_all:
        query = query.filter(reviewed_at__isnull=True)
    rows = list(query[:200])
    posted = {
        s.sale_id: s
        for s in Sale.objects.select_related("store").filter(sale_id__in=[c.sale_id for c in rows])
    }
    for row in rows:
        row.posted = posted.get(row.sale_id)
    return render(request, "sales/conflicts.html", {"conflicts": rows, "show_all": show_all})


@require_POST
@capability_required(Capability.VIEW_SALES)
def review(request, conflict_id: int):
    conflict = get_object_or_404(SaleConflict, pk=conflict_id)
    try:
        services.review_conflict(conflict, user=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Conflict on {conflict.sale_id} marked as reviewed")
    return redirect("sales:conflicts")
