"""The demo's making-it-right: after the outage is resolved, associates and QR codes have signed
up shoppers in affected stores, the members whose sales were declined or queued offline are
collected, the offers go out (more for members), and a week of redemptions comes back through
the sales API, so the incident's goodwill page shows real results."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.models import Store, TokenScope
from tideover.core.services import create_api_token
from tideover.incidents.models import Incident
from tideover.loyalty.members import find_member
from tideover.loyalty.models import Member
from tideover.recovery import capture
from tideover.recovery.campaign import progress, run_campaign, start_campaign
from tideover.recovery.collect import collect_from_sales
from tideover.recovery.models import Campaign, GoodwillOffer, Source
from tideover.recovery.policy import set_policy

CX = Actor(name="demo cx_manager")
SIGN_UPS_PER_STORE = 6
REDEEM_SHARE = 0.3


def make_it_right(incident: Incident, *, seed: int = 13) -> dict:
    """Capture, collect, send and replay redemptions for a resolved demo incident (once)."""
    if incident.resolved_at is None or Campaign.objects.filter(incident=incident).exists():
        return {}
    rng = random.Random(seed)
    stores = list(Store.objects.filter(pk__in=incident.affected_store_ids()).order_by("code"))
    signed = _sign_up_shoppers(incident, stores, rng)
    collected = collect_from_sales(incident)
    set_policy(
        incident, actor=CX, offer_kind="amount", offer_value=500, min_spend_cents=2500,
        tier_bonus={"member": {"points": 100}, "cardholder": {"points": 300, "extra": 500}},
        valid_days=30, budget_cents=5_000_000, expected_redemption_percent=25,
        channel="email_first",
    )  # fmt: skip
    campaign = run_campaign(start_campaign(incident, actor=CX))
    redeemed = _replay_redemptions(incident, rng)
    return {
        "signed_up": signed,
        "collected": sum(collected.values()),
        "offers": progress(campaign)["offers"],
        "redeemed": redeemed,
    }


def _sign_up_shoppers(incident, stores, rng) -> int:
    members = list(Member.objects.filter(home_store__in=stores[:40]).order_by("?")[:100])
    count = 0
    for index, store in enumerate(stores[:40]):
        for n in range(SIGN_UPS_PER_STORE):
            if members and rng.random() < 0.3:
                member = members.pop()
                person = capture.Person(member.name, member.phone_e164, member.email, member)
            else:
                number = 5550100 + (index * SIGN_UPS_PER_STORE + n) % 9900
                phone = f"+1512{number:07d}" if rng.random() < 0.3 else ""
                email = "" if phone else f"shopper{index}-{n}@example.com"
                person = capture.Person("Demo Shopper", phone, email, None)
                person.member = find_member(phone_e164=phone, email=email)
            capture.sign_up(
                incident, store, person, consent=True, shown_consent_text=capture.consent_text(),
                source=Source.ASSOCIATE if n % 2 else Source.QR, actor=Actor(name="demo associate"),
            )  # fmt: skip
            count += 1
    return count


def _replay_redemptions(incident, rng) -> int:
    """Some customers come back over the following week and use their code at a till; the
    sales go through the sales API as the store agents post them."""
    offers = list(
        GoodwillOffer.objects.filter(incident=incident, reward__isnull=False)
        .select_related("customer__store", "customer__member")
        .order_by("pk")
    )
    now = timezone.now()
    days = max(0, min(7, (now - incident.resolved_at).days))
    client = Client(HTTP_HOST="127.0.0.1")
    tokens: dict[str, str] = {}
    used = 0
    for offer in offers:
        if rng.random() >= REDEEM_SHARE:
            continue
        store = offer.customer.store or Store.objects.order_by("code").first()
        if store.code not in tokens:
            _, tokens[store.code] = create_api_token(
                name=f"demo till {store.code}", scopes=[TokenScope.SALES_WRITE], store=store
            )
        start = incident.resolved_at + timedelta(minutes=5)
        at = min(start + timedelta(days=rng.uniform(0, days), hours=rng.uniform(0, 8)), now)
        cents = rng.randrange(2500, 9000)
        member = offer.customer.member
        sale = {
            "sale_id": f"{store.code}-GW-{offer.pk:07d}", "store": store.code, "register": "R1",
            "occurred_at": at.isoformat(), "member_id": member.loyalty_id if member else None,
            "lines": [{"sku": "BASKET", "quantity": 1, "unit_price_cents": cents}],
            "tenders": [{"kind": "card", "amount_cents": cents - 500}], "codes": [offer.code],
        }  # fmt: skip
        response = client.post(
            "/api/v1/sales", data=json.dumps(sale), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tokens[store.code]}",
        )  # fmt: skip
        if response.status_code == 200 and response.json().get("redeemed"):
            used += 1
    return used


def report(console) -> None:
    """The demo command's call: make it right for the replayed outage and say what happened."""
    incident = (
        Incident.objects.incidents()
        .filter(resolved_at__isnull=False, is_drill=False, affected_stores__isnull=False)
        .order_by("-resolved_at")
        .first()
    )
    if incident is None:
        return
    with console.status("Making it right: sign-ups, collection, goodwill offers, redemptions..."):
        done = make_it_right(incident)
    if done:
        console.print(
            f"Goodwill: {done['signed_up']} shoppers signed up in stores, {done['collected']} "
            f"declined or offline sales collected, {done['offers']:,} offers sent, "
            f"{done['redeemed']} redeemed at the tills (console: /recover/incidents/{incident.pk}/)"
        )
