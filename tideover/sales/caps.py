"""The chain's per-sale limits as one function of the limits, with no Django: HQ applies it
with its settings (``limits.per_sale_refusal``), the store agent with the limits HQ sends it,
so a till hears the same words from either.

The limits are ``SALES_MAX_LINES``, ``SALES_MAX_LINE_QUANTITY`` and ``SALES_MAX_AMOUNT_CENTS``
(docs/configuration.md); ``PerSaleLimits()`` holds their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PerSaleLimits:
    max_lines: int = 200
    max_line_quantity: int = 1000
    max_amount_cents: int = 5_000_000

    @classmethod
    def from_dict(cls, data: dict | None) -> PerSaleLimits:
        if not data:
            return cls()
        return cls(**{k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        return asdict(self)


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def lines_total(sale) -> int:
    return sum(line.quantity * line.unit_price_cents for line in sale.lines)


def paid_total(sale) -> int:
    return sum(t.amount_cents for t in sale.tenders) if sale.tenders else lines_total(sale)


def refusal(sale, limits: PerSaleLimits) -> str | None:
    """Why this sale is over the per-sale limits, or None when it is within them."""
    if len(sale.lines) > limits.max_lines:
        return (
            f"{len(sale.lines)} lines is over the limit of {limits.max_lines} lines per sale "
            "(SALES_MAX_LINES); ring it up as several sales"
        )
    for number, line in enumerate(sale.lines, start=1):
        if line.quantity > limits.max_line_quantity:
            return (
                f"line {number} ({line.sku}): {line.quantity:,} units is over the limit of "
                f"{limits.max_line_quantity:,} per line (SALES_MAX_LINE_QUANTITY)"
            )
    for what, amount in (("lines total", lines_total(sale)), ("tenders total", paid_total(sale))):
        if amount > limits.max_amount_cents:
            return (
                f"{what} {money(amount)} is over the per-sale limit of "
                f"{money(limits.max_amount_cents)} (SALES_MAX_AMOUNT_CENTS); check the amounts"
            )
    return None
