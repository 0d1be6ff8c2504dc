"""Posting sales: idempotent per store, one transaction per batch, one result per sale.

Sale ids are unique per store (``Sale.store`` + ``Sale.sale_id``): a store's token can only
claim ids in its own store, so whatever id it sends, it cannot block another store's sale, and
a conflict is always between two postings of the same store.

Built for the design peak (2,000 sales/s): a batch costs a fixed handful of queries (look up
ids, stores and originals at once; bulk-insert sales, lines and tenders; loyalty accrues the
batch in bulk through ``hooks``), while each sale still gets its exact result.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError

from tideover.core.errors import DomainError
from tideover.core.models import Store
from tideover.sales import hooks, limits, returns
from tideover.sales.bulk import insert_rows, rows_where_in
from tideover.sales.models import (
    Sale,
    SaleConflict,
    SaleKind,
    SaleLine,
    SaleStatus,
    SaleTender,
)
from tideover.sales.results import CONFLICT, DUPLICATE, POSTED, REJECTED, SaleResult
from tideover.sales.schemas import SaleIn, content_hash, describe_errors, hash_as_sent

__all__ = ["CONFLICT", "DUPLICATE", "POSTED", "REJECTED", "SaleResult", "post_sale", "post_sales"]


def max_batch() -> int:
    return getattr(settings, "SALES_MAX_BATCH", 1000)


def _sale_id_of(item) -> str:
    value = item.get("sale_id") if isinstance(item, dict) else None
    return str(value)[:64] if value is not None else ""


@dataclass
class _New:
    index: int
    sale: SaleIn
    hash: str
    row: hooks.SaleRecord | None = None
    original: limits.Original | None = None
    offline: bool = False
    hash_as_sent: str | None = None  # before loyalty ids were upper-cased, if that differs


def post_sales(
    batch: list, *, token=None, received_from: str = "", queued_offline: Collection[str] = ()
) -> list[SaleResult]:
    """Post a batch of sales in one transaction and return one result per sale, in order.

    Each item is a ``SaleIn`` or a dict of the same shape::

        {"sale_id": "S001-R1-000123",          # globally unique, [A-Za-z0-9._:-], <= 64
         "store": "S001", "register": "R1",
         "occurred_at": "2026-11-21T14:03:00Z",  # datetime or ISO text, with a time zone
         "status": "completed",                 # completed | failed | declined | voided
         "kind": "sale",                         # sale | return | void
         "original_sale_id": None,              # returns and voids: the sale they undo
         "original_store": None,                # ... when it was made at another store
         "member_id": "M0000042",               # loyalty id, or None
         "lines": [{"sku": "A1", "quantity": 2, "unit_price_cents": 1250}],
         "tenders": [{"kind": "card", "amount_cents": 2500}],   # cash | card | card_offline
         "codes": ["ABCD-EFGH-JKLM"]}           # reward / offer codes used

    Results: ``posted``; ``duplicate`` (already posted with the same content: same effect);
    ``conflict`` (the id was posted with other content: refused and kept for staff);
    ``rejected`` with the reason. A ``token`` bound to a store may post only that store's sales.
    Sales over the per-sale limits, and returns or voids taking back more than their original
    has left, are rejected (``limits``). ``queued_offline``: the ids of sales in this batch that
    the store agent took while HQ could not be reached (kept on the sale; not its content, so
    a resend is a duplicate whatever it says).
    """
    if len(batch) > max_batch():
        raise DomainError(f"Send at most {max_batch()} sales per batch (got {len(batch)})")
    if len(queued_offline) > max_batch():
        # Like the batch itself: a list no batch could fill is refused before it is looked at.
        raise DomainError(
            f"queued_offline names at most {max_batch()} sales (got {len(queued_offline)})",
            field="queued_offline",
        )
    offline = set(queued_offline)
    if offline:
        sent = {s.sale_id if isinstance(s, SaleIn) else _sale_id_of(s) for s in batch}
        if stray := sorted(offline - sent):
            raise DomainError(
                "queued_offline names sales that are not in this batch: " + ", ".join(stray[:5]),
                field="queued_offline",
            )
    results: list[SaleResult | None] = [None] * len(batch)
    parsed: list[_New] = []
    own_store = token.store.code if token is not None and token.store_id else None
    for index, item in enumerate(batch):
        try:
            sale = item if isinstance(item, SaleIn) else SaleIn.model_validate(item)
        except ValidationError as exc:
            results[index] = SaleResult(_sale_id_of(item), REJECTED, describe_errors(exc))
            continue
        if own_store is not None and sale.store != own_store:
            results[index] = SaleResult(
                sale.sale_id,
                REJECTED,
                f"This token posts for store {own_store} only; sale is from {sale.store}",
            )
            continue
        refusal = limits.per_sale_refusal(sale)
        if refusal is not None:
            results[index] = SaleResult(sale.sale_id, REJECTED, refusal)
            continue
        parsed.append(
            _New(
                index,
                sale,
                content_hash(sale),
                offline=sale.sale_id in offline,
                hash_as_sent=hash_as_sent(sale),
            )
        )
    if parsed:
        with transaction.atomic():
            _post(parsed, results, received_from)
    return results  # type: ignore[return-value]


def post_sale(sale, *, token=None, received_from: str = "") -> SaleResult:
    """Post one sale (see :func:`post_sales` for its shape)."""
    return post_sales([sale], token=token, received_from=received_from)[0]


# Rounds of later copies judged per batch; each costs a few queries.
MAX_ROUNDS = 5


def _post(parsed: list[_New], results: list, received_from: str) -> None:
    """Post ``parsed`` in rounds: a sale id sent more than once in one batch is judged after
    the copy before it, against what that copy came to (stored, or refused)."""
    for _ in range(MAX_ROUNDS):
        if not parsed:
            return
        parsed = _post_round(parsed, results, received_from)
    for item in parsed:  # a batch of many differing copies of one id: judged no further
        results[item.index] = SaleResult(
            item.sale.sale_id,
            REJECTED,
            f"This sale id is in the batch more than {MAX_ROUNDS} times with other content; "
            "send one copy",
        )


def _post_round(parsed: list[_New], results: list, received_from: str) -> list[_New]:
    """Post the first copy of each sale id; returns the later copies still to judge."""
    stores = {s.code: s for s in Store.objects.filter(code__in={p.sale.store for p in parsed})}
    existing = {
        (store_pk, sale_id): digest
        for store_pk, sale_id, digest in rows_where_in(
            Sale, "sale_id", [p.sale.sale_id for p in parsed], ["store", "sale_id", "content_hash"]
        )
    }
    conflicts: list[SaleConflict] = []
    new: list[_New] = []
    first: dict[tuple[int, str], _New] = {}
    later: list[tuple[_New, _New]] = []
    for item in parsed:
        sale = item.sale
        if sale.store not in stores:
            results[item.index] = SaleResult(
                sale.sale_id, REJECTED, f"Unknown store {sale.store!r}; use the chain's store code"
            )
            continue
        key = (stores[sale.store].pk, sale.sale_id)
        prior = existing.get(key)
        if prior is not None:
            _classify_repeat(item, prior, results, conflicts, received_from)
            continue
        if key in first:
            later.append((item, first[key]))
            continue
        first[key] = item
        new.append(item)
    new = returns.resolve_originals(new, results)
    new = _insert_claiming_ids(new, stores, results, conflicts, received_from)
    new = _redeem_codes(new, results)
    new = returns.link_batch_originals(new, results)
    if conflicts:
        SaleConflict.objects.bulk_create(conflicts, ignore_conflicts=True)
    if new:
        _store_posted(new, results)
    return _still_to_judge(later, results)


def _still_to_judge(later: list[tuple[_New, _New]], results: list) -> list[_New]:
    """A later copy of a refused sale with the same content is refused the same way; any other
    is judged in the next round, as a repeat of what is stored now or as a sale of its own."""
    rest = []
    for item, earlier in later:
        outcome = results[earlier.index]
        if outcome.result == REJECTED and item.hash == earlier.hash:
            results[item.index] = SaleResult(item.sale.sale_id, REJECTED, outcome.reason)
        else:
            rest.append(item)
    return rest


def _store_posted(new: list[_New], results: list) -> None:
    """Write the lines and tenders of the sales just inserted, and tell the listeners."""
    lines, tenders, posted = [], [], []
    for item in new:
        row = item.row
        for number, line in enumerate(item.sale.lines, start=1):
            lines.append(
                (
                    row.pk,
                    number,
                    line.sku,
                    line.quantity,
                    line.unit_price_cents,
                    line.quantity * line.unit_price_cents,
                )
            )
        for tender in item.sale.tenders:
            tenders.append((row.pk, tender.kind, tender.amount_cents))
        posted.append(hooks.PostedSale(sale=row, paid_cents=row.paid_cents))
        if results[item.index] is None:
            results[item.index] = SaleResult(row.sale_id, POSTED)
    insert_rows(SaleLine, LINE_FIELDS, lines)
    insert_rows(SaleTender, TENDER_FIELDS, tenders)
    by_key = {item.row.key: results[item.index] for item in new}
    for listener in hooks.listeners():
        for key, extra in (listener(posted) or {}).items():
            result = by_key.get(key)
            if result is None:
                continue
            for key, value in extra.items():
                if key in ("notes", "rewards", "redeemed"):
                    getattr(result, key).extend(value)
                else:
                    setattr(result, key, value)


def _classify_repeat(item: _New, prior_hash: str, results, conflicts, received_from) -> None:
    sale = item.sale
    if prior_hash in (item.hash, item.hash_as_sent):
        results[item.index] = SaleResult(sale.sale_id, DUPLICATE)
        return
    results[item.index] = SaleResult(
        sale.sale_id,
        CONFLICT,
        "This sale id was already posted with different content; refused and flagged for staff",
    )
    conflicts.append(
        SaleConflict(
            sale_id=sale.sale_id,
            store_code=sale.store,
            content_hash=item.hash,
            posted_hash=prior_hash,
            payload=sale.model_dump(mode="json", by_alias=True),
            received_from=received_from[:120],
        )
    )


def _row(item: _New, store: Store, now, posted_by: str = "") -> hooks.SaleRecord:
    sale = item.sale
    total = sum(line.quantity * line.unit_price_cents for line in sale.lines)
    paid = sum(t.amount_cents for t in sale.tenders) if sale.tenders else total
    return hooks.SaleRecord(
        sale_id=sale.sale_id,
        store=store,
        register=sale.register_code,
        occurred_at=sale.occurred_at,
        posted_at=now,
        status=sale.status,
        kind=sale.kind,
        original_sale_id=sale.original_sale_id or "",
        member_id=sale.member_id or "",
        codes=[c.strip().upper() for c in sale.codes],
        total_cents=total,
        paid_cents=paid,
        content_hash=item.hash,
        posted_by=posted_by,
        original_pk=item.original.pk if item.original else None,
        original_store=item.original.store_code if item.original else "",
        queued_offline=item.offline,
    )


SALE_FIELDS = [
    "sale_id",
    "store",
    "register",
    "occurred_at",
    "posted_at",
    "status",
    "kind",
    "original_sale_id",
    "member_id",
    "codes",
    "total_cents",
    "paid_cents",
    "content_hash",
    "original",
    "queued_offline",
]
LINE_FIELDS = ["sale", "line_no", "sku", "quantity", "unit_price_cents", "amount_cents"]
TENDER_FIELDS = ["sale", "kind", "amount_cents"]


_ATTRIBUTE = {"store": "store_id", "original": "original_pk"}


def _values(row: hooks.SaleRecord) -> tuple:
    return tuple(getattr(row, _ATTRIBUTE.get(f, f)) for f in SALE_FIELDS)


def _insert_claiming_ids(new, stores, results, conflicts, received_from) -> list[_New]:
    """Insert the new sales; a sale another connection posted meanwhile becomes a repeat.

    The unique sale id is the lock: a concurrent insert of the same id waits for the other
    transaction and then fails, inside a savepoint, and the sale is classified again against
    what was committed. Sorting by id keeps two batches from deadlocking on each other.
    """
    new = sorted(new, key=lambda item: item.sale.sale_id)
    now = timezone.now()
    for _attempt in range(5):
        if not new:
            return new
        rows = [_row(item, stores[item.sale.store], now, received_from) for item in new]
        try:
            with transaction.atomic():
                ids = insert_rows(Sale, SALE_FIELDS, [_values(row) for row in rows], returning=True)
        except IntegrityError:
            committed = {
                (store_code, sale_id): digest
                for store_code, sale_id, digest in Sale.objects.filter(
                    sale_id__in=[i.sale.sale_id for i in new]
                ).values_list("store__code", "sale_id", "content_hash")
            }
            if not any((i.sale.store, i.sale.sale_id) in committed for i in new):
                raise
            kept = []
            for item in new:
                key = (item.sale.store, item.sale.sale_id)
                if key in committed:
                    _classify_repeat(item, committed[key], results, conflicts, received_from)
                else:
                    kept.append(item)
            new = kept
            continue
        for item, row, pk in zip(new, rows, ids, strict=True):
            row.pk = pk
            item.row = row
        return new
    raise DomainError("Too many concurrent postings of the same sales; send the batch again")


def _redeem_codes(new: list[_New], results) -> list[_New]:
    """Redeem the codes each new sale carries; a refused code rejects that sale alone."""
    refused_pks = []
    kept = []
    for item in new:
        codes = item.row.codes
        if not codes:
            kept.append(item)
            continue
        result = SaleResult(item.sale.sale_id, POSTED)
        if item.row.kind != SaleKind.SALE or item.row.status != SaleStatus.COMPLETED:
            # Only money actually taken spends a code: a declined card's retry must still
            # find it unused, and a return or void does not use a code again.
            what = item.row.status if item.row.kind == SaleKind.SALE else item.row.kind
            result.notes.extend(
                f"Code {code} was not used: this {what} sale does not redeem codes"
                if item.row.kind == SaleKind.SALE
                else f"Code {code} was not used: a {what} does not redeem codes"
                for code in codes
            )
            results[item.index] = result
            kept.append(item)
            continue
        try:
            with transaction.atomic():
                for code in codes:
                    for redeem in hooks.redeemers():
                        done = redeem(code, sale=item.row)
                        if done is not None:
                            result.redeemed.append(code)
                            item.row.discount_cents += done.get("discount_cents", 0)
                            break
                    else:
                        result.notes.append(f"Code {code} is not one of our reward or offer codes")
        except hooks.CodeRefused as exc:
            results[item.index] = SaleResult(item.sale.sale_id, REJECTED, exc.reason)
            refused_pks.append(item.row.pk)
            continue
        results[item.index] = result
        kept.append(item)
    if refused_pks:
        # Only this transaction has seen these rows: the sale is taken back, not hidden.
        Sale.objects.filter(pk__in=refused_pks).delete()
    return kept


def review_conflict(conflict: SaleConflict, *, user, note: str = "") -> SaleConflict:
    """Mark a conflict as looked at, with what was done about it."""
    if conflict.reviewed_at is not None:
        raise DomainError("This conflict was already reviewed")
    conflict.reviewed_at = timezone.now()
    conflict.reviewed_by = user
    conflict.review_note = note.strip()[:2000]
    conflict.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
    return conflict
