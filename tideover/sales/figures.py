"""Sales figures over a window, for other apps' reports (postmortems): read-only."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Q, Sum

from tideover.sales.models import Sale, SaleStatus, SaleTender, TenderKind

# A sale the store agent says it took offline was queued; so was one HQ heard about this much
# later than the customer paid (from a register posting on its own, or an older agent).
QUEUED_AFTER = timedelta(minutes=2)


def window_figures(store_ids, since: datetime, until: datetime) -> dict:
    """Sales that happened in these stores between ``since`` and ``until``: how many, how many
    were queued offline and posted later (and the longest wait), declines, card payments taken
    offline, and member sales whose points therefore posted late. Money in integer cents."""
    sales = Sale.objects.filter(
        store_id__in=list(store_ids), occurred_at__gte=since, occurred_at__lte=until
    )
    late = Q(queued_offline=True) | Q(posted_at__gt=F("occurred_at") + QUEUED_AFTER)
    row = sales.aggregate(
        total=Count("pk"),
        completed=Count("pk", filter=Q(status=SaleStatus.COMPLETED)),
        declined=Count("pk", filter=Q(status=SaleStatus.DECLINED)),
        queued=Count("pk", filter=late),
        queued_cents=Sum("paid_cents", filter=late & Q(status=SaleStatus.COMPLETED)),
        member_queued=Count("pk", filter=late & ~Q(member_id="")),
        last_posted=Max("posted_at", filter=late),
    )
    longest = None
    if row["queued"]:
        waits = sales.filter(late).annotate(wait=F("posted_at") - F("occurred_at"))
        occurred, posted = waits.order_by("-wait").values_list("occurred_at", "posted_at")[0]
        longest = posted - occurred
    offline_cards = SaleTender.objects.filter(sale__in=sales, kind=TenderKind.CARD_OFFLINE).count()
    return {
        "sales": row["total"],
        "completed": row["completed"],
        "declined": row["declined"],
        "queued_offline": row["queued"],
        "queued_offline_cents": row["queued_cents"] or 0,
        "member_sales_posted_late": row["member_queued"],
        "last_queued_posted_at": row["last_posted"],
        "longest_wait": longest,
        "offline_card_payments": offline_cards,
    }
