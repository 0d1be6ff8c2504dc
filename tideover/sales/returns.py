"""Returns and voids: find the sale each one undoes (in the returning store, the store named,
or the one store chain-wide that posted that id), and refuse one that takes back more than the
original has left (``limits.Original.refusal``)."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum

from tideover.sales.limits import Original, from_batch
from tideover.sales.models import Sale, SaleKind, SaleLine, SaleStatus
from tideover.sales.results import REJECTED, SaleResult


def resolve_originals(new: list, results) -> list:
    """A return or void needs its original sale posted first (earlier in the batch is fine),
    and a completed one may not take back more than the original has left."""
    wanted = {i.sale.original_sale_id for i in new if i.sale.original_sale_id}
    if not wanted:
        return new
    posted = load_originals(wanted)
    in_batch: dict[tuple[str, str], Original] = {}
    kept = []
    for item in new:
        sale = item.sale
        if sale.original_sale_id:
            original = resolve(sale, posted, in_batch)
            refusal = original if isinstance(original, str) else None
            if refusal is None and original.kind != SaleKind.SALE:
                refusal = f"{original.name} is itself a {original.kind}, not a sale"
            if refusal is None and sale.status == SaleStatus.COMPLETED:
                refusal = original.refusal(sale)
            if refusal is not None:
                results[item.index] = SaleResult(sale.sale_id, REJECTED, refusal)
                continue
            if sale.status == SaleStatus.COMPLETED:
                original.take(sale)
            item.original = original
        kept.append(item)
        remember(sale, in_batch)
    return kept


def link_batch_originals(new: list, results) -> list:
    """Point returns at originals that were posted in this same batch (their row ids exist
    only now); a return whose original was refused here is refused with it."""
    pending = [i for i in new if i.original is not None and i.original.pk is None]
    if not pending:
        return new
    posted = {(i.row.store.code, i.row.sale_id): i.row.pk for i in new}
    dropped = []
    for item in pending:
        original = item.original
        pk = posted.get((original.store_code, original.sale_id))
        if pk is None:  # refused, or posted meanwhile by another connection
            pk = (
                Sale.objects.filter(store__code=original.store_code, sale_id=original.sale_id)
                .values_list("pk", flat=True)
                .first()
            )
        if pk is None:
            results[item.index] = SaleResult(
                item.sale.sale_id,
                REJECTED,
                f"Original sale {original.name} was not posted; send it first",
            )
            dropped.append(item.row.pk)
            continue
        item.row.original_pk = pk
        Sale.objects.filter(pk=item.row.pk).update(original_id=pk)
    if dropped:
        Sale.objects.filter(pk__in=dropped).delete()
    return [i for i in new if i.row.pk not in dropped]


def load_originals(wanted: set[str]) -> dict[tuple[str, str], list[Original]]:
    """Posted sales with these ids, locked, with what was taken back from each so far:
    {(store code, sale id): Original} plus, under (``""``, sale id), every store's."""
    rows = list(
        Sale.objects.select_for_update(of=("self",))
        .filter(sale_id__in=wanted)
        .order_by("pk")
        .values_list("pk", "store__code", "sale_id", "kind", "total_cents", "paid_cents")
    )
    found: dict[int, Original] = {}
    for pk, store_code, sale_id, kind, total, paid in rows:
        found[pk] = Original(store_code, sale_id, kind, pk, total, paid)
    if not found:
        return {}
    for sale_pk, sku, units, cents in (
        SaleLine.objects.filter(sale_id__in=list(found))
        .values_list("sale_id", "sku")
        .annotate(units=Sum("quantity"), cents=Sum("amount_cents"))
        .values_list("sale_id", "sku", "units", "cents")
    ):
        found[sale_pk].lines[sku] = [units, cents]
    undone = Sale.objects.filter(original_id__in=list(found), status=SaleStatus.COMPLETED)
    for original_pk, sku, units, cents in (
        SaleLine.objects.filter(sale__in=undone)
        .values_list("sale__original_id", "sku")
        .annotate(units=Sum("quantity"), cents=Sum("amount_cents"))
        .values_list("sale__original_id", "sku", "units", "cents")
    ):
        found[original_pk].taken[sku] = [units, cents]
    for original_pk, kind, sale_id, total, paid in undone.values_list(
        "original_id", "kind", "sale_id", "total_cents", "paid_cents"
    ):
        original = found[original_pk]
        original.taken_total += total
        original.taken_paid += paid
        if kind == SaleKind.VOID:
            original.voided_by = sale_id
    by_key: dict[tuple[str, str], list[Original]] = defaultdict(list)
    for original in found.values():
        by_key[(original.store_code, original.sale_id)].append(original)
        by_key[("", original.sale_id)].append(original)
    return by_key


def resolve(sale, posted: dict, batch: dict) -> Original | str:
    """The sale a return or void undoes, or why it cannot be found.

    It is looked for in ``original_store`` when given, else in the returning store and then in
    the whole chain (a return at another store), among ``posted`` (from :func:`load_originals`)
    and sales earlier in this ``batch`` ({(store code, sale id): Original}).
    """
    wanted = sale.original_sale_id
    stores = [sale.original_store] if sale.original_store else [sale.store]
    for store in stores:
        found = posted.get((store, wanted)) or (
            [batch[(store, wanted)]] if (store, wanted) in batch else []
        )
        if found:
            return found[0]
    if not sale.original_store:
        elsewhere = posted.get(("", wanted), []) + [
            o for (s, i), o in batch.items() if i == wanted and s != sale.store
        ]
        if len(elsewhere) == 1:
            return elsewhere[0]
        if len(elsewhere) > 1:
            codes = ", ".join(sorted({o.store_code for o in elsewhere}))
            return (
                f"Sale id {wanted} was posted by several stores ({codes}); "
                "send original_store with the store that made the sale"
            )
    where = f" at {sale.original_store}" if sale.original_store else ""
    return f"Original sale {wanted}{where} has not been posted yet; send it first"


def remember(sale, batch: dict) -> None:
    """A sale accepted in this batch may be undone later in the same batch."""
    if sale.kind == SaleKind.SALE:
        batch[(sale.store, sale.sale_id)] = from_batch(sale)
