"""What the goodwill did, per incident and per store: captured, sent, delivered, redeemed,
revenue, discount, points, cost against budget, and who came back compared with their usual
rate and with the holdout (affected customers who on purpose got no offer)."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import timedelta

from django.utils import timezone

from tideover.incidents.models import Incident
from tideover.loyalty.offers import redemptions
from tideover.notifications.models import Category, OutboxMessage
from tideover.recovery.campaign import key_prefix
from tideover.recovery.collect import incident_window
from tideover.recovery.models import AffectedCustomer, Evidence, GoodwillOffer
from tideover.recovery.policy import point_value_cents, policy_of
from tideover.sales.reads import members_who_bought, sale_totals

TOTAL = "all stores"


def _blank() -> dict:
    return {
        "captured": 0,
        "captured_by_source": Counter(),
        "offers": 0,
        "sent": 0,
        "delivered": 0,
        "redeemed": 0,
        "revenue_cents": 0,
        "discount_cents": 0,
        "points_granted": 0,
    }


def results(incident: Incident) -> dict:
    """Results for the incident (``rows[TOTAL]``) and each store (``rows[store code]``)."""
    customers = dict(
        AffectedCustomer.objects.filter(incident=incident).values_list("pk", "store__code")
    )
    rows: dict[str, dict] = defaultdict(_blank)
    rows[TOTAL]  # always there, even before anyone is captured
    for store in customers.values():
        for scope in (TOTAL, store or "no store"):
            rows[scope]["captured"] += 1
    for customer_id, source in (
        Evidence.objects.filter(customer__incident=incident)
        .values_list("customer_id", "source")
        .distinct()
    ):
        store = customers.get(customer_id) or "no store"
        for scope in (TOTAL, store):
            rows[scope]["captured_by_source"][source] += 1
    states = dict(
        OutboxMessage.objects.filter(
            incident_id=incident.pk,
            category=Category.MARKETING,
            dedupe_key__startswith=key_prefix(incident.pk),
        ).values_list("dedupe_key", "state")
    )
    offers = list(
        GoodwillOffer.objects.filter(incident=incident).values(
            "customer_id", "reward_id", "dedupe_key", "bonus_points", "points_granted",
            "message_state",
        )
    )  # fmt: skip
    offer_store = {}
    for offer in offers:
        store = customers.get(offer["customer_id"]) or "no store"
        offer_store[offer["reward_id"]] = store
        # The message, or once pruning deleted it, the state it had then.
        state = states.get(offer["dedupe_key"]) or offer["message_state"]
        for scope in (TOTAL, store):
            row = rows[scope]
            row["offers"] += 1
            row["sent"] += state in ("sent", "delivered")
            row["delivered"] += state == "delivered"
            row["points_granted"] += offer["bonus_points"] if offer["points_granted"] else 0
    used = redemptions(f"incident:{incident.pk}")
    sales = sale_totals((r["redeemed_store"], r["redeemed_sale_id"]) for r in used)
    per_day: Counter = Counter()
    counted: set[tuple[str, tuple[str, str]]] = set()  # (row, sale) whose revenue is in
    for redemption in used:
        key = (redemption["redeemed_store"], redemption["redeemed_sale_id"])
        sale = sales.get(key)
        store = offer_store.get(redemption["id"], "no store")
        for scope in (TOTAL, store):
            row = rows[scope]
            row["redeemed"] += 1
            row["discount_cents"] += redemption["discount_cents"] or 0
            # A sale that redeemed several of the incident's codes was still one purchase.
            if sale and (scope, key) not in counted:
                counted.add((scope, key))
                row["revenue_cents"] += sale["paid_cents"]
        when = sale["occurred_at"] if sale else redemption["redeemed_at"]
        per_day[timezone.localtime(when).date()] += 1
    policy = policy_of(incident)
    point_cents = point_value_cents()
    for row in rows.values():
        row["redemption_rate"] = row["redeemed"] / row["sent"] if row["sent"] else 0.0
        row["cost_cents"] = row["discount_cents"] + round(row["points_granted"] * point_cents)
        row["captured_by_source"] = dict(row["captured_by_source"])
    total = rows[TOTAL]
    total["budget_cents"] = policy.budget_cents
    return {
        "rows": dict(rows),
        "per_day": sorted(per_day.items()),
        "came_back": came_back(incident),
    }


def keep_delivery_states(message_ids: list[int]) -> None:
    """Pruning is about to delete these finished messages: each goodwill offer keeps its
    message's state, so sent and delivered still add up per incident and store."""
    if not message_ids:
        return
    # By id range, then the ids themselves in Python: pruning hands over thousands of ids at a
    # time, and an ``__in`` filter has Django prepare one parameter per id.
    pruned = set(message_ids)
    found = (
        OutboxMessage.objects.filter(
            pk__range=(min(pruned), max(pruned)),
            category=Category.MARKETING,
            dedupe_key__startswith="goodwill:",
        )
        .values_list("pk", "dedupe_key", "state")
        .order_by()
    )
    by_state = defaultdict(list)
    for pk, key, state in found:
        if pk in pruned:
            by_state[state].append(key)
    for state, keys in by_state.items():
        # The offer keeps its message's key; a merge may since have moved the offer to another
        # customer than the one the key names, so the key finds it, not the customer.
        offers = GoodwillOffer.objects.exclude(dedupe_key="")  # the partial index's condition
        matched = set(offers.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        offers.filter(dedupe_key__in=matched).update(message_state=state)
        # Offers made before they kept the key: goodwill:<incident>:<time zone>:<customer>.
        customers = [int(key.rsplit(":", 1)[1]) for key in keys if key not in matched]
        if customers:
            GoodwillOffer.objects.filter(customer_id__in=customers, dedupe_key="").update(
                message_state=state
            )


def came_back(incident: Incident) -> dict:
    """Share of affected members who bought again within 7 and 30 days of resolution, for
    those offered and those held out, against the same members' usual rate (the share who
    bought in the same number of days before the incident began)."""
    start, end = incident_window(incident)
    groups: dict[str, list[str]] = {"offered": [], "holdout": []}
    offered_ids = set(
        GoodwillOffer.objects.filter(incident=incident).values_list("customer_id", flat=True)
    )
    for pk, loyalty_id, holdout in AffectedCustomer.objects.filter(
        incident=incident, member__isnull=False
    ).values_list("pk", "member__loyalty_id", "holdout"):
        if holdout:
            groups["holdout"].append(loyalty_id)
        elif pk in offered_ids:
            groups["offered"].append(loyalty_id)
    now = timezone.now()
    answer = {}
    for name, members in groups.items():
        answer[name] = {"members": len(members)}
        for days in (7, 30):
            after_end = min(end + timedelta(days=days), now)
            back = members_who_bought(members, end, after_end) if members else set()
            usual = (
                members_who_bought(members, start - timedelta(days=days), start)
                if members
                else set()
            )
            answer[name][days] = {
                "came_back": len(back),
                "rate": len(back) / len(members) if members else 0.0,
                "usual_rate": len(usual) / len(members) if members else 0.0,
                "complete": end + timedelta(days=days) <= now,
            }
    return answer


CSV_COLUMNS = [
    "scope", "captured", "offers", "sent", "delivered", "redeemed", "redemption_rate",
    "revenue_cents", "discount_cents", "points_granted", "cost_cents",
]  # fmt: skip


def to_csv(data: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    sources = sorted({s for row in data["rows"].values() for s in row["captured_by_source"]})
    writer.writerow(CSV_COLUMNS + [f"captured_{s}" for s in sources])
    scopes = [TOTAL] + sorted(s for s in data["rows"] if s != TOTAL)
    for scope in scopes:
        row = data["rows"][scope]
        values = [scope] + [row[c] for c in CSV_COLUMNS[1:]]
        values[CSV_COLUMNS.index("redemption_rate")] = f"{row['redemption_rate']:.4f}"
        writer.writerow(values + [row["captured_by_source"].get(s, 0) for s in sources])
    writer.writerow([])
    writer.writerow(["day", "redemptions"])
    for day, count in data["per_day"]:
        writer.writerow([day.isoformat(), count])
    return out.getvalue()


def plot_svg(per_day: list, *, width: int = 600, height: int = 200) -> str:
    """Redemptions per day as a bar chart (SVG, server-rendered, readable without JavaScript)."""
    left, bottom, top = 40, 30, 10
    inner_w, inner_h = width - left - 10, height - bottom - top
    peak = max((n for _, n in per_day), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Redemptions per day">',
        "<title>Redemptions per day</title>",
        f'<line x1="{left}" y1="{top + inner_h}" x2="{width - 10}" y2="{top + inner_h}" stroke="#888"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + inner_h}" text-anchor="end" font-size="11">0</text>',
    ]
    if not per_day:
        parts.append(
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" font-size="13">'
            "No redemptions yet</text>"
        )
    slot = inner_w / max(len(per_day), 1)
    for i, (day, count) in enumerate(per_day):
        bar_h = inner_h * count / peak
        x = left + i * slot + slot * 0.15
        y = top + inner_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar_h:.1f}" '
            f'fill="#2b6cb0"><title>{day:%a %-d %b}: {count}</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - 12}" text-anchor="middle" '
            f'font-size="10">{day:%-d %b}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
