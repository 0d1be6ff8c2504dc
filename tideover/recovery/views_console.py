"""Console pages: an incident's goodwill (policy, expected cost, send, progress, results, plot,
CSV) and customer service's lookup with resend and grant."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.roles import Capability, has_capability
from tideover.incidents.models import Incident
from tideover.recovery import campaign as campaigns
from tideover.recovery import policy as policies
from tideover.recovery import results as outcome
from tideover.recovery import servicedesk
from tideover.recovery.forms import LookupForm, PolicyForm
from tideover.recovery.models import AffectedCustomer, Campaign
from tideover.recovery.texts import dollars


def _policy_initial(policy) -> dict:
    bonus = policy.tier_bonus or {}
    return {
        "offer_kind": policy.offer_kind,
        "offer_value": policy.offer_value,
        "min_spend_cents": policy.min_spend_cents,
        "member_bonus_points": bonus.get("member", {}).get("points", 0),
        "cardholder_bonus_points": bonus.get("cardholder", {}).get("points", 0),
        "cardholder_extra": bonus.get("cardholder", {}).get("extra", 0),
        "valid_days": policy.valid_days,
        "channel": policy.channel,
        "budget_cents": policy.budget_cents,
        "expected_redemption_percent": policy.expected_redemption_percent,
        "holdout_percent": policy.holdout_percent,
        "recovery_window_days": policy.recovery_window_days,
    }


@capability_required(Capability.VIEW_GOODWILL_RESULTS)
def incident_goodwill(request, incident_id, form=None, status=200):
    incident = get_object_or_404(Incident, pk=incident_id)
    policy = policies.policy_of(incident)
    campaign = Campaign.objects.filter(incident=incident).first()
    data = outcome.results(incident)
    return render(
        request,
        "recovery/incident.html",
        {
            "incident": incident,
            "policy": policy,
            "policy_saved": policy.pk is not None,
            "form": form or PolicyForm(initial=_policy_initial(policy)),
            "estimate": policies.estimate(incident, policy),
            "campaign": campaign,
            "progress": campaigns.progress(campaign) if campaign else None,
            "results": data,
            "total": data["rows"].get(outcome.TOTAL),
            "stores": sorted((k, v) for k, v in data["rows"].items() if k != outcome.TOTAL),
            "plot": outcome.plot_svg(data["per_day"]),
            "can_manage": has_capability(request.user, Capability.MANAGE_GOODWILL),
            "dollars": dollars,
        },
        status=status,
    )


@capability_required(Capability.MANAGE_GOODWILL)
@require_POST
def set_policy(request, incident_id):
    incident = get_object_or_404(Incident, pk=incident_id)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        return incident_goodwill.__wrapped__(request, incident_id, form=form, status=400)
    data = form.cleaned_data
    bonus = {}
    if data["member_bonus_points"]:
        bonus["member"] = {"points": data["member_bonus_points"]}
    cardholder = {}
    if data["cardholder_bonus_points"]:
        cardholder["points"] = data["cardholder_bonus_points"]
    if data["cardholder_extra"]:
        cardholder["extra"] = data["cardholder_extra"]
    if cardholder:
        bonus["cardholder"] = cardholder
    values = {k: v for k, v in data.items() if k in policies.POLICY_FIELDS}
    try:
        policies.set_policy(incident, actor=Actor.of(request.user), tier_bonus=bonus, **values)
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return incident_goodwill.__wrapped__(request, incident_id, form=form, status=400)
    messages.success(request, "Goodwill policy saved.")
    return redirect("recovery:incident", incident_id=incident.pk)


@capability_required(Capability.MANAGE_GOODWILL)
@require_POST
def campaign_action(request, incident_id, action):
    incident = get_object_or_404(Incident, pk=incident_id)
    actor = Actor.of(request.user)
    try:
        if action == "start":
            started = campaigns.start_campaign(incident, actor=actor)
            messages.success(
                request,
                "Nothing is sent for a drill: the campaign counts what it would send."
                if started.is_drill
                else "The campaign is sending; progress shows below.",
            )
        elif action in ("pause", "resume"):
            found = get_object_or_404(Campaign, incident=incident)
            getattr(campaigns, action)(found, actor=actor)
            messages.success(request, f"Campaign {'paused' if action == 'pause' else 'resumed'}.")
        else:
            return HttpResponse("Unknown action", status=404)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("recovery:incident", incident_id=incident.pk)
    return redirect("recovery:incident", incident_id=incident.pk)


@capability_required(Capability.VIEW_GOODWILL_RESULTS)
def results_csv(request, incident_id):
    incident = get_object_or_404(Incident, pk=incident_id)
    response = HttpResponse(outcome.to_csv(outcome.results(incident)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="goodwill-incident-{incident.pk}.csv"'
    return response


@capability_required(Capability.VIEW_GOODWILL_RESULTS)
def plot(request, incident_id):
    incident = get_object_or_404(Incident, pk=incident_id)
    svg = outcome.plot_svg(outcome.results(incident)["per_day"])
    return HttpResponse(svg, content_type="image/svg+xml")


@capability_required(Capability.VIEW_MEMBERS)
def lookup(request):
    form = LookupForm(request.GET or None)
    found = None
    status = 200
    if form.is_bound and form.is_valid():
        try:
            found = servicedesk.lookup(form.cleaned_data["q"], actor=Actor.of(request.user))
        except DomainError as exc:
            form.add_error("q", exc.message)
            status = 400
    elif form.is_bound:
        status = 400
    return render(
        request,
        "recovery/lookup.html",
        {
            "form": form,
            "found": found,
            "can_grant": has_capability(request.user, Capability.GRANT_GOODWILL),
            "query": request.GET.get("q", ""),
        },
        status=status,
    )


@capability_required(Capability.GRANT_GOODWILL)
@require_POST
def customer_action(request, customer_id, action):
    customer = get_object_or_404(
        AffectedCustomer.objects.select_related("incident"), pk=customer_id
    )
    actor = Actor.of(request.user)
    try:
        if action == "resend":
            channel = servicedesk.resend_offer(customer, actor=actor)
            messages.success(request, f"Offer sent again by {channel}.")
        elif action == "grant":
            offer = servicedesk.grant_offer(
                customer, actor=actor, reason=request.POST.get("reason", "")
            )
            messages.success(request, f"Offer granted: code {offer.code}.")
        else:
            return HttpResponse("Unknown action", status=404)
    except DomainError as exc:
        messages.error(request, exc.message)
    query = request.POST.get("q", "")
    url = reverse("recovery:lookup")
    return redirect(f"{url}?{urlencode({'q': query})}" if query else url)


def goodwill_panel(request, incident):
    """The incident page's Goodwill section: the headline results and the plot."""
    if not has_capability(request.user, Capability.VIEW_GOODWILL_RESULTS):
        return None
    if incident.kind != "incident":
        return None
    data = outcome.results(incident)
    return {
        "incident": incident,
        "total": data["rows"][outcome.TOTAL],
        "plot": outcome.plot_svg(data["per_day"]) if data["per_day"] else "",
    }
