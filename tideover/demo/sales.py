"""The scenario's sales, posted through the sales API the way store agents post them.

Stores that lost HQ keep selling offline from 14:00; their agents drain oldest first when HQ
returns at 16:00, and one agent retries a batch it never saw acknowledged (the duplicates post
nothing twice). Stores that never lost HQ post every 15 minutes as they go. Points land with the
time of purchase (``occurred_at``), not the time of posting.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

from django.test import Client

from tideover.core.models import Register, Store, TokenScope
from tideover.core.services import create_api_token
from tideover.demo.scenario import Replay, affected_stores

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
    ("SOAP-3", 549),
    ("HEADPHONES", 2999),
    ("TSHIRT", 1499),
    ("BATTERIES-8", 1199),
    ("CEREAL", 479),
    ("JUICE-64", 459),
]
SALES_PER_STORE_HOUR = 24
BATCH = 500
MEMBER_SHARE = 0.6


class StoreAgentPoster:
    """Posts through the real API, one store-bound token per store, and tallies the results."""

    def __init__(self):
        self.client = Client(HTTP_HOST="127.0.0.1")
        self.tokens: dict[str, str] = {}
        self.counts: Counter = Counter()
        self.points = 0
        self.rewards = 0

    def token_for(self, store: Store) -> str:
        if store.code not in self.tokens:
            _, secret = create_api_token(
                name=f"demo agent {store.code}", scopes=[TokenScope.SALES_WRITE], store=store
            )
            self.tokens[store.code] = secret
        return self.tokens[store.code]

    def post(self, store: Store, sales: list[dict]) -> None:
        for start in range(0, len(sales), BATCH):
            chunk = sales[start : start + BATCH]
            response = self.client.post(
                "/api/v1/sales:batch",
                data=json.dumps({"sales": chunk}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {self.token_for(store)}",
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"sales API refused a batch from {store.code}: {response.content[:300]!r}"
                )
            body = response.json()
            for kind in ("posted", "duplicate", "conflict", "rejected"):
                self.counts[kind] += body[kind]
            for result in body["results"]:
                self.points += result.get("points") or 0
                self.rewards += len(result.get("rewards") or [])


def _make_sales(
    store: Store,
    registers: list[str],
    start,
    minutes: int,
    rng: random.Random,
    members: int,
    offline: bool,
):
    count = round(SALES_PER_STORE_HOUR * minutes / 60)
    sales = []
    for n in range(count):
        occurred = start + timedelta(seconds=rng.randint(0, minutes * 60 - 1))
        lines = []
        for sku, price in rng.sample(CATALOG, 2):
            lines.append({"sku": sku, "quantity": rng.randint(1, 3), "unit_price_cents": price})
        total = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
        card = rng.random() < 0.6
        status = "declined" if offline and card and rng.random() < 0.04 else "completed"
        tender = "card_offline" if (card and offline) else ("card" if card else "cash")
        sale = {
            "sale_id": f"{store.code}-{start:%Y%m%d%H%M}-{n:05d}",
            "store": store.code,
            "register": rng.choice(registers),
            "occurred_at": occurred.isoformat(),
            "status": status,
            "lines": lines,
            "tenders": [{"kind": tender, "amount_cents": total}],
        }
        if members and rng.random() < MEMBER_SHARE:
            sale["member_id"] = f"M{rng.randint(1, members):07d}"
        sales.append(sale)
    sales.sort(key=lambda s: s["occurred_at"])
    return sales


def build_sales(replay: Replay, *, members: int, seed: int = 21) -> StoreAgentPoster:
    """Add the sales steps to the replay and return the poster that tallies them."""
    rng = random.Random(seed)
    poster = StoreAgentPoster()
    stores = list(Store.objects.order_by("code"))
    registers: dict[int, list[str]] = {}
    for store_id, code in Register.objects.values_list("store_id", "code"):
        registers.setdefault(store_id, []).append(code)
    affected = affected_stores()
    online = stores[len(affected) :]

    for quarter in range(8):  # 14:00-16:00 in quarter hours: online stores post as they go
        begin = replay.start + timedelta(minutes=15 * quarter)

        def post_online(begin=begin):
            for store in online:
                poster.post(
                    store,
                    _make_sales(store, registers[store.pk], begin, 15, rng, members, offline=False),
                )

        replay.add(
            timedelta(minutes=15 * (quarter + 1)), "online stores post their sales", post_online
        )

    def drain_offline_queues():
        for index, store in enumerate(affected):
            queued = _make_sales(
                store, registers[store.pk], replay.start, 120, rng, members, offline=True
            )
            poster.post(store, queued)
            if index % 25 == 0:  # this agent never saw the answer to its last batch and resends it
                poster.post(store, queued[-BATCH:])

    replay.add(
        timedelta(hours=2, seconds=30),
        "HQ back: store agents drain their queues",
        drain_offline_queues,
    )
    return poster
