"""Points for purchases, posted with the sale: the sales hook ``accrue_posted`` handles a
whole batch in a few queries (lock the batch's members, bulk-insert entries and lines, one
upsert per lot, one balance update per member) and issues rewards at once.

Rules are evaluated at each sale's ``occurred_at``: the base rate (AccrualRule, else the
LOYALTY_POINTS_PER_DOLLAR setting), the member's tier multiplier and the best promotion running
then (``rates.earned``, which store agents also use for their provisional points). Returns and voids take back the points of the sale they undo (a return in proportion to
what was refunded), never more than it earned.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from tideover.loyalty import holds, ledger, rates, rewards
from tideover.loyalty.config import Program, program
from tideover.loyalty.ledger import LotBook, Posting
from tideover.loyalty.models import (
    Account,
    AccrualRule,
    EntryKind,
    HeldPoints,
    HoldState,
    JournalEntry,
    Member,
    PointsLot,
    Promotion,
)
from tideover.sales.models import Sale, SaleKind, SaleStatus


class Rates:
    """The accrual rules and promotions that apply between two moments, loaded once."""

    def __init__(self, program: Program, start: datetime, end: datetime):
        self.program = program
        self.rules = list(AccrualRule.objects.filter(starts_at__lte=end).order_by("-starts_at"))
        self.promotions = list(Promotion.objects.filter(starts_at__lte=end, ends_at__gt=start))

    def points(self, paid_cents: int, tier: str, at: datetime) -> int:
        return rates.earned(
            paid_cents,
            tier,
            at,
            points_per_dollar=self.program.points_per_dollar,
            tier_multipliers=self.program.tier_multipliers,
            rules=self.rules,
            promotions=self.promotions,
        )


def points_for(paid_cents: int, tier: str, at: datetime) -> int:
    """Points a purchase of ``paid_cents`` at ``at`` earns a member of ``tier``."""
    return Rates(program(), at, at).points(paid_cents, tier, at)


def accrue_posted(posted: list) -> dict[str, dict]:
    """Sales hook: post the points of newly posted sales; returns extras for each result."""
    earning = [
        p
        for p in posted
        if p.sale.kind == SaleKind.SALE
        and p.sale.status == SaleStatus.COMPLETED
        and p.sale.member_id
    ]
    undoing = [
        p for p in posted if p.sale.kind != SaleKind.SALE and p.sale.status == SaleStatus.COMPLETED
    ]
    if not earning and not undoing:
        return {}
    prog = program()
    extras: dict[str, dict] = {}
    originals = _originals(undoing, earning)
    members = ledger.lock_members(
        loyalty_ids={_loyalty_id(p.sale) for p in earning},
        pks={pk for o in originals.values() for pk in (o["member_id"], o["held_by"]) if pk},
        light=True,
    )
    _earned_under_lock(originals)
    by_loyalty_id = {m.loyalty_id: m for m in members.values()}
    book = LotBook()
    postings: list[Posting] = []
    touched: dict[int, list[str]] = defaultdict(list)  # member pk -> sale keys
    earned_now: dict[str, tuple[int, int]] = {}  # sale key -> (member pk, points)
    held = holds.pending_for({p.sale.original_key for p in undoing})  # sale key -> hold
    if earning:
        times = [p.sale.occurred_at for p in earning]
        rates = Rates(prog, min(times), max(times))
        tz = timezone.get_current_timezone()
        _reinstate_for_late_sales(earning, by_loyalty_id, book, postings, tz)
        for p in earning:
            sale = p.sale
            member = by_loyalty_id.get(_loyalty_id(sale))
            if member is None:
                extras[sale.key] = {
                    "notes": [f"No member {sale.member_id}; the sale posted without points"]
                }
                continue
            points, notes, hold = holds.screen(
                rates.points(p.paid_cents, member.tier, sale.occurred_at),
                sale,
                member.pk,
                p.paid_cents,
                prog,
            )
            touched[member.pk].append(sale.key)
            # The tier lets a store agent estimate the member's next sales as HQ will post them.
            extras[sale.key] = {"points": points, "notes": notes, "tier": member.tier}
            if hold is not None:
                held[sale.key] = hold
            if points <= 0:
                continue
            earned_now[sale.key] = (member.pk, points)
            member.balance += points
            book.credit(
                member, ledger.expiry_date(sale.occurred_at, prog.points_valid_months, tz), points
            )
            postings.append(
                Posting(
                    member=member,
                    kind=EntryKind.ACCRUAL,
                    source_type="sale",
                    source_id=sale.key,
                    points=points,
                    contra=Account.POINTS_ISSUED,
                    occurred_at=sale.occurred_at,
                    actor=getattr(sale, "posted_by", "") or "system",
                    reason=f"Purchase at {sale.store.code}",
                )
            )
    if undoing:
        _reverse(undoing, originals, earned_now, held, members, book, postings, touched, extras)
    _finish(members, touched, book, postings, prog, extras)
    HeldPoints.objects.bulk_create([h for h in held.values() if h.pk is None])
    return extras


def _loyalty_id(sale) -> str:
    # Members are stored upper-case (the sales schema upper-cases what tills send; a sale
    # recorded another way must still find its member).
    return sale.member_id.strip().upper()


def _originals(undoing: list, earning: list) -> dict[str, dict]:
    """What each undone sale earned, read before the members are locked:
    {sale key: {member_id, points, paid_cents, held_by}} (``held_by``: the member of its hold)."""
    pks = {p.sale.original_pk for p in undoing if p.sale.original_pk}
    if not pks:
        return {}
    found = {
        f"{store_code}/{sale_id}": {
            "member_id": None,
            "points": 0,
            "paid_cents": paid,
            "held_by": None,
        }
        for store_code, sale_id, paid in Sale.objects.filter(pk__in=pks).values_list(
            "store__code", "sale_id", "paid_cents"
        )
    }
    _read_earned(found, list(found))
    for key, member_pk in holds.members_of(found).items():
        found[key]["held_by"] = member_pk
    return found


def _read_earned(found: dict[str, dict], keys: list[str]) -> None:
    for source_id, member_id, points in JournalEntry.objects.filter(
        source_type="sale", source_id__in=keys
    ).values_list("source_id", "member_id", "points"):
        found[source_id].update(member_id=member_id, points=points)


def _earned_under_lock(originals: dict[str, dict]) -> None:
    """Read again, now that the members are locked, what held sales earned.

    An approval of held points locks the member before it posts the accrual, so once this
    transaction holds the member, an approval has either committed (read here, so the return
    takes its share back) or waits for us (and then sees what the return left held). Read
    before the lock, an approval committing in between left the return taking nothing."""
    keys = [key for key, o in originals.items() if o["held_by"]]
    if keys:
        _read_earned(originals, keys)


def _reverse(undoing, originals, earned_now, held, members, book, postings, touched, extras):
    ids = {p.sale.original_key for p in undoing}
    taken_back = dict(
        JournalEntry.objects.filter(source_type="return", related_source_id__in=ids)
        .values("related_source_id")
        .annotate(total=Sum("points"))
        .values_list("related_source_id", "total")
    )
    # A sale whose points were held and approved posted what returns had left of them: its
    # share per returned dollar is still of what it earned, less what those returns took.
    approved = holds.approved_for(ids)
    for p in undoing:
        sale = p.sale
        original = originals.get(sale.original_key, {})
        member_pk, earned = original.get("member_id"), original.get("points", 0)
        taken_while_held = 0
        if sale.original_key in earned_now:
            member_pk, earned = earned_now[sale.original_key]
        elif sale.original_key in approved:
            hold = approved[sale.original_key]
            earned, taken_while_held = hold.held, hold.held - hold.points
        hold = held.get(sale.original_key)
        if hold is not None and hold.state == HoldState.PENDING and earned <= 0:
            extras[sale.key] = {"points": 0, "notes": [holds.take_back(hold, sale, p.paid_cents)]}
            continue
        if not member_pk or earned <= 0:
            continue
        left = earned - taken_while_held + taken_back.get(sale.original_key, 0)
        paid = original.get("paid_cents") or 0
        if sale.kind == SaleKind.VOID or paid <= 0 or p.paid_cents >= paid:
            back = left
        else:
            back = min(left, -(-earned * p.paid_cents // paid))  # round up: never keep extra
        if back <= 0:
            continue
        taken_back[sale.original_key] = taken_back.get(sale.original_key, 0) - back
        member = members[member_pk]
        member.balance -= back
        book.debit(member, back)
        touched[member.pk].append(sale.key)
        extras[sale.key] = {"points": -back}
        postings.append(
            Posting(
                member=member,
                kind=EntryKind.REVERSAL,
                source_type="return",
                source_id=sale.key,
                points=-back,
                contra=Account.POINTS_ISSUED,
                occurred_at=sale.occurred_at,
                actor=getattr(sale, "posted_by", "") or "system",
                reason=f"{sale.get_kind_display().split(' ')[0]} of sale {sale.original_sale_id}",
                related_source_id=sale.original_key,
            )
        )


def _reinstate_for_late_sales(earning, by_loyalty_id, book, postings, tz) -> None:
    """A sale made before a deadline counts even if it posts after the points expired: the
    expired points come back for this posting (and expire again unless a reward uses them)."""
    # One cheap question first (usually answered "none"): does anyone in this batch have
    # expired points whose deadline is on or after the batch's earliest sale?
    earliest = min(p.sale.occurred_at for p in earning).astimezone(tz).date()
    pks = {m.pk for p in earning if (m := by_loyalty_id.get(_loyalty_id(p.sale)))}
    late = _expired_lots_since(pks, earliest)
    if not late:
        return
    by_member = defaultdict(list)
    for p in earning:
        member = by_loyalty_id.get(_loyalty_id(p.sale))
        if member is not None:
            by_member[member.pk].append(p.sale.occurred_at.astimezone(tz).date())
    due = [(pk, day) for pk, day in late if min(by_member[pk]) <= day]
    if not due:
        return
    members = {m.pk: m for m in by_loyalty_id.values()}
    book.load({pk for pk, _ in due})
    for pk, day in due:
        member = members[pk]
        if member.balance < 0:
            # Points brought back into a debt would pay it off and never expire again (only
            # points above zero live in lots, and only lots expire again): they stay expired,
            # as they would have had the sale posted on time.
            continue
        lot = next(lot for lot in book.lots(pk) if lot.expires_on == day)
        amount = lot.expired
        member.balance += amount
        lot.expired -= amount
        lot.remaining += amount
        postings.append(
            Posting(
                member=member,
                kind=EntryKind.REINSTATE,
                source_type="reinstate",
                source_id=f"{lot.pk}.{lot.expiry_seq}",
                points=amount,
                contra=Account.POINTS_EXPIRED,
                occurred_at=timezone.now(),
                reason=f"A purchase made by {day:%-d %b %Y} posted late; its expired points count",
            )
        )


def _expired_lots_since(member_pks, earliest) -> list[tuple[int, date]]:
    """(member, deadline) of lots with expired points whose deadline is on/after ``earliest``."""
    if not member_pks:
        return []
    if connection.vendor == "postgresql":  # one array parameter, not one per member
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT member_id, expires_on FROM {PointsLot._meta.db_table} "  # noqa: S608
                "WHERE member_id = ANY(%s) AND expired > 0 AND expires_on >= %s",
                [list(member_pks), earliest],
            )
            return cursor.fetchall()
    return list(
        PointsLot.objects.filter(
            member_id__in=list(member_pks), expired__gt=0, expires_on__gte=earliest
        ).values_list("member_id", "expires_on")
    )


def _finish(members, touched, book, postings, prog, extras) -> None:
    """Rewards for thresholds crossed, late lots expired again, then write it all."""
    from tideover.loyalty.expiry import expire_lot

    today = timezone.localdate()
    # Members about to get a reward spend from their lots: load them all in one query, and
    # their full rows (the reward and the message need them).
    crossing = [pk for pk in touched if members[pk].balance >= prog.reward_threshold]
    book.load(crossing)
    full = Member.objects.in_bulk(crossing)
    all_issued = []
    for pk, sale_keys in touched.items():
        member = members[pk]
        issued = []
        if pk in full:
            full[pk].balance = member.balance
            new_postings, issued = rewards.issue_due(full[pk], book, prog)
            member.balance = full[pk].balance
            postings.extend(new_postings)
            all_issued.extend(issued)
        if book.is_loaded(pk):
            for lot in book.lots(pk):
                if lot.expires_on < today and lot.remaining > 0:
                    postings.append(expire_lot(member, lot))
        for key in sale_keys:
            extras.setdefault(key, {})["balance"] = member.balance
        if issued:
            extras[sale_keys[-1]]["rewards"] = [
                {"code": r.code, "value_cents": r.value_cents, "expires_at": r.expires_at}
                for r in issued
            ]
    ledger.write(postings)
    ledger.save_balances([members[pk] for pk in touched])
    book.flush()
    rewards.save_rewards(all_issued)


def rules_for_agents(now: datetime, *, back_days: int = 1, ahead_days: int = 14) -> dict:
    """The accrual rules and promotions a store agent needs to estimate the points of sales it
    accepts while HQ is out of reach (sales from a day ago to two weeks ahead), as JSON."""
    since, until = now - timedelta(days=back_days), now + timedelta(days=ahead_days)
    rules = list(AccrualRule.objects.filter(starts_at__gt=since, starts_at__lte=until))
    current = AccrualRule.objects.filter(starts_at__lte=since).order_by("-starts_at").first()
    if current is not None:
        rules.append(current)
    promotions = Promotion.objects.filter(starts_at__lte=until, ends_at__gt=since)
    return {
        "rules": [
            {"points_per_dollar": r.points_per_dollar, "starts_at": r.starts_at.isoformat()}
            for r in sorted(rules, key=lambda r: r.starts_at, reverse=True)
        ],
        "promotions": [
            {
                "multiplier_percent": p.multiplier_percent,
                "starts_at": p.starts_at.isoformat(),
                "ends_at": p.ends_at.isoformat(),
                "tiers": list(p.tiers or []),
            }
            for p in promotions.order_by("starts_at")
        ],
    }
