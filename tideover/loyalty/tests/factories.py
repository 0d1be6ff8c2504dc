"""Small builders for sales and members used across the loyalty and sales tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

_numbers = itertools.count(1)

BASE_TIME = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


def sale(
    *,
    member: str | None = None,
    cents: int = 2500,
    store: str = "S001",
    sale_id: str | None = None,
    at: datetime | None = None,
    kind: str = "sale",
    original: str | None = None,
    status: str = "completed",
    codes: list[str] | None = None,
    lines: list[dict] | None = None,
) -> dict:
    number = next(_numbers)
    if lines is None:
        lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": cents}] if cents else []
    return {
        "sale_id": sale_id or f"{store}-R1-{number:08d}",
        "store": store,
        "register": "R1",
        "occurred_at": (at or BASE_TIME + timedelta(seconds=number)).isoformat(),
        "status": status,
        "kind": kind,
        "original_sale_id": original,
        "member_id": member,
        "lines": lines,
        "tenders": [
            {
                "kind": "card",
                "amount_cents": sum(x["quantity"] * x["unit_price_cents"] for x in lines),
            }
        ],
        "codes": codes or [],
    }
