"""Console: every store's link to HQ at a glance (filter by region), and the offline card
policy per store or region."""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.models import Region
from tideover.core.roles import Capability, has_capability, sees_all_stores
from tideover.core.services import store_by_code
from tideover.storelink import services
from tideover.storelink.forms import CardPolicyForm
from tideover.storelink.models import CardPolicy, LinkState


@capability_required(Capability.VIEW_STORE_LINKS)
def stores(request):
    regions = list(Region.objects.all())
    region = next((r for r in regions if r.slug == request.GET.get("region")), None)
    scope = None
    if not sees_all_stores(request.user):
        profile = getattr(request.user, "staff_profile", None)
        scope = [profile.store] if profile and profile.store else []
    rows = services.store_links(region=region, stores=scope)
    counts = Counter(row["state"] for row in rows)
    # Stores holding sales HQ did not take (rejected, conflicting, quarantined): staff must act.
    attention = [row for row in rows if row["agent"] and row["agent"].needs_attention]
    wanted = request.GET.get("state", "")
    if wanted in LinkState.values:
        rows = [row for row in rows if row["state"] == wanted]
    only_attention = request.GET.get("attention") == "1"
    if only_attention:
        rows = [row for row in rows if row["agent"] and row["agent"].needs_attention]
    return render(
        request,
        "storelink/stores.html",
        {
            "rows": rows,
            "regions": regions,
            "region": region,
            "state": wanted,
            "counts": [(s, LinkState(s).label, counts.get(s, 0)) for s in LinkState.values],
            "may_edit_policy": has_capability(request.user, Capability.MANAGE_CARD_POLICY),
            "changes": services.recent_changes(region=region, stores=scope),
            "without_agent": sum(1 for row in rows if row["state"] is None),
            "attention_stores": len(attention),
            "attention_sales": sum(row["agent"].needs_attention for row in attention),
            "only_attention": only_attention,
        },
    )


@capability_required(Capability.MANAGE_CARD_POLICY)
def policies(request):
    form = CardPolicyForm(
        initial={
            "per_sale_limit": services.default_policy()["per_sale_limit_cents"] / 100,
            "total_limit": services.default_policy()["total_limit_cents"] / 100,
            "max_count": services.default_policy()["max_count"],
            "max_age_minutes": services.default_policy()["max_age_minutes"],
        }
    )
    return _policies_page(request, form)


def _policies_page(request, form, status=200):
    rows = CardPolicy.objects.select_related("store", "region", "updated_by").order_by(
        "region__name", "store__code"
    )
    return render(
        request,
        "storelink/policies.html",
        {"form": form, "policies": rows, "chain": services.default_policy()},
        status=status,
    )


@require_POST
@capability_required(Capability.MANAGE_CARD_POLICY)
def set_policy(request):
    form = CardPolicyForm(request.POST)
    if not form.is_valid():
        return _policies_page(request, form, status=400)
    target = form.cleaned_data["target"].strip()
    store = store_by_code(target)
    region = None if store else Region.objects.filter(slug=target.lower()).first()
    if store is None and region is None:
        form.add_error("target", f"No store or region with the code {target}")
        return _policies_page(request, form, status=400)
    try:
        services.set_card_policy(store=store, region=region, user=request.user, **form.limits())
    except DomainError as exc:
        form.add_error(None, exc.message)
        return _policies_page(request, form, status=400)
    messages.success(request, f"Offline card policy of {store or region} saved")
    return redirect("storelink:policies")


@require_POST
@capability_required(Capability.MANAGE_CARD_POLICY)
def clear_policy(request, policy_id: int):
    policy = CardPolicy.objects.filter(pk=policy_id).select_related("store", "region").first()
    if policy is not None:
        services.clear_card_policy(store=policy.store, region=policy.region)
        messages.success(request, f"Policy of {policy.store or policy.region} removed")
    return redirect("storelink:policies")
