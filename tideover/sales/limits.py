"""What one sale may carry, and what a return or void may take back.

Per-sale limits (``SALES_MAX_AMOUNT_CENTS``, ``SALES_MAX_LINES``, ``SALES_MAX_LINE_QUANTITY``)
keep a typo or a hostile till from writing a sale of 5·10^18 cents into the ledger; the check
itself is ``caps.refusal``, shared with the store agent.

A return or void is checked against the sale it undoes: per SKU (units and money) and in total
(the lines and the money refunded), counting every completed return or void of that sale posted
before and earlier in the same batch. On PostgreSQL the original's row is locked first
(``SELECT ... FOR UPDATE``), so two tills refunding the same receipt at once are checked one
after the other; SQLite's write transactions are serial anyway (IMMEDIATE).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings

from tideover.sales import caps
from tideover.sales.caps import lines_total, money, paid_total
from tideover.sales.models import SaleKind


def per_sale_limits() -> caps.PerSaleLimits:
    """The chain's per-sale limits from HQ's settings (the store agent gets them from HQ)."""
    return caps.PerSaleLimits(
        max_lines=settings.SALES_MAX_LINES,
        max_line_quantity=settings.SALES_MAX_LINE_QUANTITY,
        max_amount_cents=settings.SALES_MAX_AMOUNT_CENTS,
    )


def per_sale_refusal(sale) -> str | None:
    """Why this sale is over the chain's per-sale limits, or None when it is within them."""
    return caps.refusal(sale, per_sale_limits())


@dataclass
class Original:
    """A sale that returns and voids in this batch undo, with what was taken back so far."""

    store_code: str
    sale_id: str
    kind: str
    pk: int | None = None  # None while it is a sale earlier in this same batch
    total: int = 0
    paid: int = 0
    lines: dict[str, list[int]] = field(default_factory=dict)  # sku -> [units, cents]
    taken: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    taken_total: int = 0
    taken_paid: int = 0
    voided_by: str = ""

    @property
    def name(self) -> str:
        return f"{self.sale_id} ({self.store_code})"

    def refusal(self, undo) -> str | None:
        """Why ``undo`` (a completed return or void) takes back more than is left, or None."""
        if self.voided_by:
            return f"Sale {self.name} was already voided by {self.voided_by}; nothing is left"
        asked: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for line in undo.lines:
            asked[line.sku][0] += line.quantity
            asked[line.sku][1] += line.quantity * line.unit_price_cents
        for sku, (units, cents) in asked.items():
            if sku not in self.lines:
                return f"SKU {sku} was not on sale {self.name}"
            had_units, had_cents = self.lines[sku]
            before_units, before_cents = self.taken[sku]
            if units + before_units > had_units:
                return (
                    f"SKU {sku}: {units} unit(s) returned, {before_units} before, but sale "
                    f"{self.name} had {had_units}"
                )
            if cents + before_cents > had_cents:
                return (
                    f"SKU {sku}: {money(cents)} returned, {money(before_cents)} before, but "
                    f"sale {self.name} had {money(had_cents)} of it"
                )
        for what, amount, before, had in (
            ("lines total", lines_total(undo), self.taken_total, self.total),
            ("refund", paid_total(undo), self.taken_paid, self.paid),
        ):
            if amount + before > had:
                return (
                    f"{what} {money(amount)} with {money(before)} taken back before is more "
                    f"than sale {self.name} took ({money(had)})"
                )
        return None

    def take(self, undo) -> None:
        for line in undo.lines:
            taken = self.taken[line.sku]
            taken[0] += line.quantity
            taken[1] += line.quantity * line.unit_price_cents
        self.taken_total += lines_total(undo)
        self.taken_paid += paid_total(undo)
        if undo.kind == SaleKind.VOID:
            self.voided_by = undo.sale_id


def from_batch(sale) -> Original:
    original = Original(sale.store, sale.sale_id, sale.kind)
    original.total, original.paid = lines_total(sale), paid_total(sale)
    for line in sale.lines:
        had = original.lines.setdefault(line.sku, [0, 0])
        had[0] += line.quantity
        had[1] += line.quantity * line.unit_price_cents
    return original
