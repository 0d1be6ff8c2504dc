"""How other apps take part in posting a sale, inside the same transaction.

Sales sits below loyalty and recovery, so it cannot call them; they plug in here from their
AppConfig.ready instead:

- a **code redeemer** ``redeem(code, *, sale) -> dict | None`` is asked about each code on a
  new completed sale (kind ``sale``; other statuses and kinds never redeem), in the order the
  till sent them: it returns None when the code is not one of its own, a dict when it
  redeemed it (with ``discount_cents``, what it took off), or raises :class:`CodeRefused` with
  the reason the till must hear (already redeemed, expired, nothing left to take off). A
  refused code rejects the whole sale, so a discount is never given twice. Codes take off at
  most what remains of the sale's total: ``sale.total_cents - sale.discount_cents`` (the
  codes before it took the rest).
- a **posting listener** ``on_posted(posted: list[PostedSale]) -> dict[sale_id, dict]`` sees
  every newly posted sale of a batch at once (loyalty accrues points here, in bulk) and may add
  fields to each sale's result (points, balance, rewards, notes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


class CodeRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class SaleRecord:
    """A sale as written in this transaction: the columns of ``Sale``, without the cost of
    building a model instance per sale on the hot path."""

    sale_id: str
    store: object  # tideover.core.models.Store
    register: str
    occurred_at: datetime
    posted_at: datetime
    status: str
    kind: str
    original_sale_id: str
    member_id: str
    codes: list
    total_cents: int
    paid_cents: int
    content_hash: str
    pk: int | None = None
    posted_by: str = ""  # who sent it (e.g. "token:agent S001"), for statements
    original_pk: int | None = None  # returns and voids: the Sale row they undo
    original_store: str = ""  # ... and its store's code (a return may be at another store)
    queued_offline: bool = False  # the store agent took it while HQ could not be reached
    discount_cents: int = 0  # taken off by the codes redeemed so far (not a column of Sale)

    @property
    def store_id(self) -> int:
        return self.store.pk

    @property
    def key(self) -> str:
        """Store code and sale id: sale ids are unique per store, so this names a sale
        chain-wide (loyalty's journal uses it as the entry's source)."""
        return f"{self.store.code}/{self.sale_id}"

    @property
    def original_key(self) -> str:
        return f"{self.original_store}/{self.original_sale_id}" if self.original_pk else ""

    def get_kind_display(self) -> str:
        from tideover.sales.models import SaleKind

        return SaleKind(self.kind).label


@dataclass(slots=True)
class PostedSale:
    """A sale just written in this transaction, with what listeners need to know."""

    sale: SaleRecord
    paid_cents: int  # what the customer paid (tenders, or the lines' total without tenders)


_redeemers: dict[str, Callable] = {}
_listeners: dict[str, Callable] = {}


def register_redeemer(name: str, redeem: Callable) -> None:
    _redeemers[name] = redeem


def register_listener(name: str, on_posted: Callable) -> None:
    _listeners[name] = on_posted


def redeemers() -> list[Callable]:
    return list(_redeemers.values())


def listeners() -> list[Callable]:
    return list(_listeners.values())
