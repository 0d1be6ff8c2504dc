"""How other apps take part in posting a sale, inside the same transaction.

Sales sits below loyalty and recovery, so it cannot call them; they plug in here from their
AppConfig.ready instead:

- a **code redeemer** ``redeem(code, *, sale) -> dict | None`` is asked about each code on a
  new sale: it returns None when the code is not one of its own, a dict (shown in the result)
  when it redeemed it, or raises :class:`CodeRefused` with the reason the till must hear
  (already redeemed, expired). A refused code rejects the whole sale, so a discount is never
  given twice.
- a **posting listener** ``on_posted(posted: list[PostedSale]) -> dict[sale_id, dict]`` sees
  every newly posted sale of a batch at once (loyalty accrues points here, in bulk) and may add
  fields to each sale's result (points, balance, rewards, notes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class CodeRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class PostedSale:
    """A sale just written in this transaction, with what listeners need to know."""

    sale: object  # tideover.sales.models.Sale
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
