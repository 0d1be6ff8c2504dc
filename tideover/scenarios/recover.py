"""Making it right inside a replay, through the recovery app's services: associates sign up
shoppers in the affected stores, the web shop reports its failed checkouts, and after the
resolution the members with declined or offline sales are collected, the scenario's goodwill
policy is set, the campaign goes out, and some customers come back with their code over the
following days (sales through the sales API, at the days they happen)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.test import Client
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.models import Store, TokenScope
from tideover.core.services import create_api_token
from tideover.incidents.models import Incident
from tideover.recovery import capture, collect
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer, Source
from tideover.recovery.policy import set_policy
from tideover.recovery.results import TOTAL, results
from tideover.scenarios.clock import ReplayClock
from tideover.scenarios.schema import Recovery, Scenario
from tideover.scenarios.scorecard import replay_sales
from tideover.scenarios.traffic import WebCheckout

ASSOCIATE = Actor(name="scenario associate")
CX = Actor(name="scenario cx manager")


def sign_up_shoppers(incident: Incident, stores: list[Store], per_store: int, seed: int) -> int:
    """Associates sign up shoppers at the tills (with the consent text they were shown)."""
    rng = random.Random(seed)
    made = 0
    for store in stores:
        for n in range(per_store):
            email = f"shopper.{store.code.lower()}.{n}.{rng.randrange(10**6)}@example.com"
            capture.sign_up(
                incident,
                store,
                capture.person_from_form(name="Shopper", email=email),
                consent=True,
                shown_consent_text=capture.consent_text(),
                source=Source.ASSOCIATE if n % 2 else Source.QR,
                actor=ASSOCIATE,
            )
            made += 1
    return made


def report_web_failures(incident: Incident, checkouts: list[WebCheckout]) -> int:
    """The web shop reports each checkout that errored during the incident."""
    sent = 0
    for checkout in checkouts:
        if not checkout.error:
            continue
        collect.report_web_failure(
            incident,
            email=checkout.email,
            member_id=checkout.member_id,
            at=checkout.at,
            amount_cents=checkout.amount_cents,
            error=checkout.error,
        )
        sent += 1
    return sent


def after_resolution(
    incident: Incident,
    scenario: Scenario,
    start: datetime,
    *,
    deliver: Callable[[], None] = lambda: None,
    checkouts: list[WebCheckout] | None = None,
) -> None:
    """The web shop reports the checkouts (``checkouts``: the replay's web orders, made here
    when not given) that failed during the incident; then, when the scenario has a goodwill
    plan, the offers go out (``deliver`` plays the worker)."""
    from tideover.scenarios.traffic import web_checkouts

    incident.refresh_from_db()
    if checkouts is None:
        checkouts = web_checkouts(scenario, start)
    since = incident.started_at or incident.declared_at
    report_web_failures(incident, [c for c in checkouts if since <= c.at <= incident.resolved_at])
    if scenario.recovery is not None:
        make_it_right(incident, scenario.recovery)
        deliver()


def make_it_right(incident: Incident, plan: Recovery) -> None:
    """After resolution: collect, set the policy, send the campaign."""
    collect.collect_from_sales(incident)
    set_policy(
        incident,
        actor=CX,
        offer_kind="amount",
        offer_value=plan.amount_off_cents,
        min_spend_cents=plan.min_spend_cents,
        tier_bonus={"member": {"points": plan.member_bonus_points}},
        valid_days=plan.valid_days,
        budget_cents=plan.budget_cents,
        expected_redemption_percent=round(plan.redeem_share * 100),
        channel="email_first",
    )
    run_campaign(start_campaign(incident, actor=CX))


def come_back(
    incident: Incident,
    plan: Recovery,
    seed: int,
    now: datetime,
    clock: ReplayClock | None = None,
    deliver: Callable[[], None] = lambda: None,
) -> int:
    """Over the following days (never past the real ``now``) some customers use their code at
    a till (sales API), each at the moment it happens on the replay's clock; messages held back
    by quiet hours go out as the clock passes them (``deliver``)."""
    rng = random.Random(seed)
    client = Client(HTTP_HOST="127.0.0.1")
    tokens: dict[str, str] = {}
    used = 0
    offers = GoodwillOffer.objects.filter(incident=incident, reward__isnull=False).select_related(
        "customer__store", "customer__member"
    )
    visits = []
    for offer in offers.order_by("pk"):
        if rng.random() >= plan.redeem_share:
            continue
        at = incident.resolved_at + timedelta(days=rng.uniform(0.05, max(plan.follow_days, 0.1)))
        visits.append((min(at, now - timedelta(minutes=5)), offer))
    fallback = Store.objects.order_by("code").first()
    for at, offer in sorted(visits, key=lambda visit: (visit[0], visit[1].pk)):
        if clock is not None:
            clock.at(at)
        deliver()
        store = offer.customer.store or fallback
        if store.code not in tokens:
            _, tokens[store.code] = create_api_token(
                name=f"scenario till {store.code}", scopes=[TokenScope.SALES_WRITE], store=store
            )
        cents = plan.min_spend_cents + rng.randrange(0, 5000)
        member = offer.customer.member
        sale = {
            "sale_id": f"{store.code}-GW-{offer.pk:07d}",
            "store": store.code,
            "register": "R1",
            "occurred_at": at.isoformat(),
            "member_id": member.loyalty_id if member else None,
            "lines": [{"sku": "BASKET", "quantity": 1, "unit_price_cents": cents}],
            "tenders": [{"kind": "card", "amount_cents": max(cents - plan.amount_off_cents, 0)}],
            "codes": [offer.code],
        }
        response = client.post(
            "/api/v1/sales",
            data=json.dumps(sale),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tokens[store.code]}",
        )
        if response.status_code == 200 and response.json().get("redeemed"):
            used += 1
    return used


def reached_within(incident: Incident, window: timedelta) -> int:
    """People whose goodwill message was sent within ``window`` of the resolution (outbox)."""
    from tideover.notifications.models import Category, OutboxMessage

    if incident.resolved_at is None:
        return 0
    return (
        OutboxMessage.objects.filter(
            incident_id=incident.pk,
            category=Category.MARKETING,
            sent_at__isnull=False,
            sent_at__lte=incident.resolved_at + window,
        )
        .values("recipient")
        .distinct()
        .count()
    )


def customers_affected(incident: Incident, offline_ids: Iterable[str]) -> int:
    """Everyone the records tie to the trouble: the members whose sale at an affected store
    was declined or failed, or was accepted offline (``offline_ids``: the sales the registers
    were told were held, their own record), while the incident lasted, and every captured
    person (signed up, collected, reported by the web shop), each counted once."""
    from tideover.recovery.models import AffectedCustomer
    from tideover.sales.models import Sale, SaleStatus

    since = incident.started_at or incident.declared_at
    until = incident.resolved_at or timezone.now()
    # The replay's own sales only: a rehearsal database's real shoppers were not affected by it.
    in_window = replay_sales(
        Sale.objects.filter(occurred_at__gte=since, occurred_at__lte=until).exclude(member_id="")
    )
    members = set(
        in_window.filter(
            store_id__in=list(incident.affected_store_ids()),
            status__in=[SaleStatus.DECLINED, SaleStatus.FAILED],
        ).values_list("member_id", flat=True)
    )
    ids = sorted(set(offline_ids))
    for start in range(0, len(ids), 5000):
        members |= set(
            in_window.filter(sale_id__in=ids[start : start + 5000]).values_list(
                "member_id", flat=True
            )
        )
    captured = AffectedCustomer.objects.filter(incident=incident)
    members |= set(
        captured.filter(member__isnull=False).values_list("member__loyalty_id", flat=True)
    )
    return len(members) + captured.filter(member__isnull=True).count()


def recovery_section(incident: Incident) -> dict:
    """The incident's goodwill results, as the recovery app counts them from its records."""
    total = results(incident)["rows"][TOTAL]
    return {
        "reached_within_1h_of_resolution": reached_within(incident, timedelta(hours=1)),
        "captured": total["captured"],
        "captured_by_source": total["captured_by_source"],
        "offers": total["offers"],
        "sent": total["sent"],
        "delivered": total["delivered"],
        "redeemed": total["redeemed"],
        "redemption_rate": total["redemption_rate"],
        "revenue_cents": total["revenue_cents"],
        "discount_cents": total["discount_cents"],
        "points_granted": total["points_granted"],
        "cost_cents": total["cost_cents"],
        "budget_cents": total.get("budget_cents"),
    }
