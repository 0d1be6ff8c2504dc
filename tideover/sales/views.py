"""Console: the sales HQ refused as conflicts, for staff to settle."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required, may_see_store
from tideover.core.errors import DomainError
from tideover.core.models import Store
from tideover.core.roles import Capability, sees_all_stores
from tideover.sales import services
from tideover.sales.models import Sale, SaleConflict


@capability_required(Capability.VIEW_SALES)
def conflicts(request):
    show_all = request.GET.get("all") == "1"
    query = SaleConflict.objects.select_related("reviewed_by")
    if not sees_all_stores(request.user):
        # Store managers see their own store's conflicts only.
        profile = getattr(request.user, "staff_profile", None)
        query = query.filter(store_code=profile.store.code if profile and profile.store else "")
    if not show_all:
        query = query.filter(reviewed_at__isnull=True)
    rows = list(query[:200])
    # Sale ids are unique per store: the posting a conflict clashed with is that store's.
    posted = {
        (s.store.code, s.sale_id): s
        for s in Sale.objects.select_related("store").filter(sale_id__in=[c.sale_id for c in rows])
    }
    for row in rows:
        row.posted = posted.get((row.store_code, row.sale_id))
    return render(request, "sales/conflicts.html", {"conflicts": rows, "show_all": show_all})


@require_POST
@capability_required(Capability.VIEW_SALES)
def review(request, conflict_id: int):
    conflict = get_object_or_404(SaleConflict, pk=conflict_id)
    store = Store.objects.filter(code=conflict.store_code).first()
    if store is None or not may_see_store(request.user, store):
        raise PermissionDenied("This conflict belongs to another store")
    try:
        services.review_conflict(conflict, user=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Conflict on {conflict.sale_id} marked as reviewed")
    return redirect("sales:conflicts")
