"""What other apps may read of the sales (recovery's affected customers and its results),
without reaching into the tables themselves."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q

from tideover.sales.models import Sale, SaleKind, SaleStatus


def troubled_member_sales(
    store_ids, since: datetime, until: datetime, *, offline_after_seconds: int
) -> list[dict]:
    """Members' sales in ``store_ids`` that happened in [since, until] and failed, were
    declined, or were queued offline: the store agent said so, or (a register posting on its
    own, an older agent) the sale reached HQ more than ``offline_after_seconds`` after it
    happened."""
    lag = timedelta(seconds=offline_after_seconds)
    return list(
        Sale.objects.filter(
            store_id__in=list(store_ids),
            occurred_at__gte=since,
            occurred_at__lte=until,
            kind=SaleKind.SALE,
        )
        .exclude(member_id="")
        .filter(
            Q(status__in=[SaleStatus.FAILED, SaleStatus.DECLINED])
            | Q(queued_offline=True)
            | Q(posted_at__gt=F("occurred_at") + lag)
        )
        .order_by("occurred_at", "pk")
        .values(
            "sale_id",
            "store_id",
            "member_id",
            "occurred_at",
            "posted_at",
            "status",
            "total_cents",
            "queued_offline",
        )
    )


def sale_totals(keys) -> dict[tuple[str, str], dict]:
    """(store code, sale id) -> total, paid and time, for the given sales (ids are unique
    per store)."""
    keys = set(keys)
    rows = Sale.objects.filter(sale_id__in={sale_id for _, sale_id in keys}).values(
        "sale_id", "total_cents", "paid_cents", "store__code", "occurred_at"
    )
    found = {(row["store__code"], row["sale_id"]): row for row in rows}
    return {key: row for key, row in found.items() if key in keys}


def members_who_bought(loyalty_ids, since: datetime, until: datetime) -> set[str]:
    """The loyalty ids among ``loyalty_ids`` with a completed sale in [since, until)."""
    ids = list(loyalty_ids)
    found: set[str] = set()
    for start in range(0, len(ids), 5000):
        found.update(
            Sale.objects.filter(
                member_id__in=ids[start : start + 5000],
                occurred_at__gte=since,
                occurred_at__lt=until,
                kind=SaleKind.SALE,
                status=SaleStatus.COMPLETED,
            )
            .values_list("member_id", flat=True)
            .distinct()
        )
    return found
