"""Shoppers at the tills during a scenario: sales made per store and quarter hour, each shaped
by whatever is broken in that store at that moment.

A sale is made at the register (its id and ``occurred_at`` are the register's); the scenario's
failures decide whether a card is authorised, must be taken offline, or is declined. The store's
agent (see ``fleet``) then decides what it accepts and when HQ hears of it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tideover.scenarios.schema import Failure, FailureKind, Scenario, Traffic

CATALOG = [  # sku, unit price in cents
    ("MILK-1G", 389),
    ("BREAD-WW", 429),
    ("EGGS-12", 499),
    ("COFFEE-12OZ", 1099),
    ("APPLES-3LB", 599),
    ("TOWELS-6", 1299),
    ("DETERGENT", 1499),
    ("CHICKEN-2LB", 899),
    ("RICE-5LB", 749),
    ("HEADPHONES", 2999),
    ("TSHIRT", 1499),
    ("BATTERIES-8", 1199),
]
BLOCK = timedelta(minutes=15)


@dataclass
class StoreSale:
    store_code: str
    payload: dict
    occurred: datetime


@dataclass
class Tills:
    """Every sale of the scenario, made up front from the scenario's seed (reproducible)."""

    sales: list[StoreSale] = field(default_factory=list)
    _next: int = 0

    @property
    def remaining(self) -> int:
        """Sales not handed out yet."""
        return len(self.sales) - self._next

    def rung_up(self, until: datetime, *, before: bool = False) -> dict[str, list[dict]]:
        """Sales made up to ``until`` (``before``: made before it) and not handed out yet, per
        store, in time order."""
        by_store: dict[str, list[dict]] = {}
        while self._next < len(self.sales) and (
            self.sales[self._next].occurred < until
            or (not before and self.sales[self._next].occurred == until)
        ):
            sale = self.sales[self._next]
            by_store.setdefault(sale.store_code, []).append(sale.payload)
            self._next += 1
        return by_store


def active(failures: list[Failure], affected: dict[int, set[str]], store: str, offset: timedelta):
    """The failures hitting ``store`` at ``offset`` from the start."""
    return [f for i, f in enumerate(failures) if f.at <= offset < f.until and store in affected[i]]


def line_changes(failures: list[Failure]) -> dict[timedelta, timedelta]:
    """The replay's minutes at which some failure starts or ends (lines are cut or restored),
    each with the exact moment it does (an offset from the start)."""
    changes: dict[timedelta, timedelta] = {}
    for moment in {f.at for f in failures} | {f.until for f in failures}:
        minute = -(-moment // timedelta(minutes=1)) * timedelta(minutes=1)  # rounded up
        changes[minute] = min(moment, changes.get(minute, moment))
    changes.pop(timedelta(0), None)  # nothing is sold before the start
    return changes


def _basket(rng: random.Random) -> list[dict]:
    return [
        {"sku": sku, "quantity": rng.randint(1, 3), "unit_price_cents": price}
        for sku, price in rng.sample(CATALOG, rng.randint(1, 3))
    ]


def _factor(traffic: Traffic, local: datetime) -> float:
    return traffic.hourly_factor.get(local.hour, 1.0)


def make_sales(
    scenario: Scenario,
    *,
    start: datetime,
    stores: list[tuple[str, list[str], object]],  # code, register codes, tzinfo
    affected: dict[int, set[str]],
    member_ids: list[str],
) -> Tills:
    """Make the day's sales for ``stores`` from the start until half an hour after service
    returns, each with its fate under the failures active at its store and minute."""
    rng = random.Random(scenario.seed)
    traffic = scenario.traffic
    end = scenario.returns_after + timedelta(minutes=30)
    tills = Tills()
    blocks = int(end / BLOCK) + 1
    for code, registers, tz in stores:
        for block in range(blocks):
            begin = block * BLOCK
            per_block = (
                traffic.sales_per_store_hour / 4 * _factor(traffic, (start + begin).astimezone(tz))
            )
            count = int(per_block) + (1 if rng.random() < per_block % 1 else 0)
            for n in range(count):
                offset = begin + timedelta(seconds=rng.randint(0, int(BLOCK.total_seconds()) - 1))
                tills.sales.append(
                    _sale(
                        scenario,
                        rng,
                        code,
                        registers,
                        start,
                        offset,
                        block,
                        n,
                        affected,
                        member_ids,
                    )
                )
    tills.sales.sort(key=lambda s: s.occurred)
    return tills


def _sale(
    scenario, rng, code, registers, start, offset, block, n, affected, member_ids
) -> StoreSale:
    traffic = scenario.traffic
    lines = _basket(rng)
    total = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
    occurred = start + offset
    hits = active(scenario.failures, affected, code, offset)
    kinds = {f.kind for f in hits}
    status, tender = "completed", ("card" if rng.random() < traffic.card_share else "cash")
    if tender == "card" and (
        FailureKind.CARD_PROCESSOR_DOWN in kinds or FailureKind.REGISTERS_LOSE_HQ in kinds
    ):
        share = max(f.decline_share for f in hits)
        if rng.random() < share:
            status = "declined"
        else:
            tender = "card_offline"
    sale = {
        "sale_id": f"{code}-{occurred:%Y%m%d}-{block:03d}-{n:04d}",
        "store": code,
        "register": rng.choice(registers),
        "occurred_at": occurred.isoformat(),
        "status": status,
        "lines": lines,
        "tenders": [{"kind": tender, "amount_cents": total}],
    }
    if member_ids and rng.random() < traffic.member_share:
        sale["member_id"] = rng.choice(member_ids)
    return StoreSale(code, sale, occurred)


@dataclass(frozen=True)
class WebCheckout:
    """One checkout attempt on the web shop; ``error`` is set when it failed."""

    at: datetime
    amount_cents: int
    email: str
    member_id: str
    error: str


def make_web_checkouts(
    scenario: Scenario, *, start: datetime, members: list[tuple[str, str]]
) -> list[WebCheckout]:
    """Web orders over the day; those made while web checkout is failing end in an error.
    ``members`` are (loyalty id, e-mail) pairs; other shoppers check out as guests."""
    rate = scenario.traffic.web_orders_per_hour / 60
    if not rate:
        return []
    rng = random.Random(scenario.seed * 13 + 5)
    minutes = int((scenario.returns_after + timedelta(minutes=30)) / timedelta(minutes=1))
    result = []
    for minute in range(minutes):
        offset = timedelta(minutes=minute)
        failing = [
            f
            for f in scenario.failures
            if f.kind == FailureKind.WEB_CHECKOUT_ERRORS and f.at <= offset < f.until
        ]
        count = int(rate) + (1 if rng.random() < rate % 1 else 0)
        for _ in range(count):
            amount = sum(line["quantity"] * line["unit_price_cents"] for line in _basket(rng))
            member_id, email = ("", f"guest{rng.randrange(1_000_000)}@example.com")
            if members and rng.random() < scenario.traffic.member_share:
                member_id, email = rng.choice(members)
            error = ""
            if failing and rng.random() < max(f.error_share for f in failing):
                error = rng.choice(["payment_service_timeout", "checkout_500", "cart_lost"])
            at = start + offset + timedelta(seconds=rng.randrange(60))
            result.append(WebCheckout(at, amount, email, member_id, error))
    return result


def web_checkouts(scenario: Scenario, start: datetime) -> list[WebCheckout]:
    """The day's web orders for the chain's members (up to 5,000 with an e-mail) and guests:
    made once per replay, reported minute by minute while Detect watches and, when it is
    resolved, the incident's failed ones again for recovery."""
    from tideover.loyalty.models import Member

    members = list(
        Member.objects.exclude(email="").order_by("pk").values_list("loyalty_id", "email")[:5000]
    )
    return make_web_checkouts(scenario, start=start, members=members)
