"""Writing the journal: balanced entries, member balances and FIFO lots, in bulk.

Callers build ``Posting``s while holding the members' rows locked (``lock_members``), keep the
in-memory ``member.balance`` current as they go, and finish with ``write`` (entries and their
lines), ``save_balances`` and ``LotBook.flush`` inside the same transaction.

Lots follow one rule: the points in a member's lots always equal ``max(balance, 0)``. A
balance can go negative only when a return takes back points already turned into a reward;
later credits pay that back before they fill a lot.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tideover.loyalty.models import Account, JournalEntry, JournalLine, Member, PointsLot


@dataclass
class Posting:
    member: Member
    kind: str
    source_type: str
    source_id: str
    points: int  # change to the member's balance
    contra: str  # the account on the other side
    occurred_at: datetime
    actor: str = "system"
    reason: str = ""
    related_source_id: str = ""


def lock_members(*, pks=(), loyalty_ids=()) -> dict[int, Member]:
    """Members by pk, locked for this transaction in pk order (so batches never deadlock)."""
    from django.db.models import Q

    query = Q(pk__in=list(pks)) | Q(loyalty_id__in=list(loyalty_ids))
    members = Member.objects.select_for_update().filter(query).order_by("pk")
    return {m.pk: m for m in members}


def write(postings: list[Posting]) -> list[JournalEntry]:
    """Insert the entries and their two lines each (they sum to zero by construction)."""
    if not postings:
        return []
    now = timezone.now()
    entries = JournalEntry.objects.bulk_create(
        [
            JournalEntry(
                source_type=p.source_type,
                source_id=p.source_id,
                kind=p.kind,
                member_id=p.member.pk,
                points=p.points,
                occurred_at=p.occurred_at,
                posted_at=now,
                actor=p.actor[:150],
                reason=p.reason[:300],
                related_source_id=p.related_source_id,
            )
            for p in postings
        ]
    )
    lines = []
    for entry, p in zip(entries, postings, strict=True):
        lines.append(
            JournalLine(
                entry_id=entry.pk,
                account=Account.MEMBER_POINTS,
                member_id=p.member.pk,
                points=p.points,
            )
        )
        lines.append(
            JournalLine(entry_id=entry.pk, account=p.contra, member_id=None, points=-p.points)
        )
    JournalLine.objects.bulk_create(lines)
    return entries


def write_once(posting: Posting) -> JournalEntry | None:
    """Write one entry unless its source already has one (then None: nothing changes)."""
    if JournalEntry.objects.filter(
        source_type=posting.source_type, source_id=posting.source_id
    ).exists():
        return None
    try:
        with transaction.atomic():
            return write([posting])[0]
    except IntegrityError:
        return None


def save_balances(members) -> None:
    rows = [(m.balance, m.pk) for m in members]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Member._meta.db_table} SET balance = %s WHERE id = %s",  # noqa: S608
                rows,
            )


def expiry_date(occurred_at: datetime, months: int) -> date:
    """Points earned in a month last until the end of the same month ``months`` later."""
    local = timezone.localtime(occurred_at).date()
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def lots_change(balance_before: int, delta: int) -> int:
    """How much a balance change moves the lots: only the part above zero lives in lots."""
    return max(balance_before + delta, 0) - max(balance_before, 0)


class LotBook:
    """The lots touched by one transaction. Plain credits of members never loaded are written
    as one upsert each (the common case: a purchase); members that spend, lose or regain
    points are loaded once and changed in memory, oldest deadline first."""

    def __init__(self):
        self._pending: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        self._loaded: dict[int, dict[date, PointsLot]] = {}

    def is_loaded(self, member_pk: int) -> bool:
        return member_pk in self._loaded

    def load(self, member_pks) -> None:
        wanted = [pk for pk in member_pks if pk not in self._loaded]
        if not wanted:
            return
        for pk in wanted:
            self._loaded[pk] = {}
        for lot in PointsLot.objects.select_for_update().filter(member_id__in=wanted):
            self._loaded[lot.member_id][lot.expires_on] = lot
        for (pk, expires_on), (earned, remaining) in list(self._pending.items()):
            if pk in self._loaded:
                del self._pending[(pk, expires_on)]
                lot = self._lot(pk, expires_on)
                lot.earned += earned
                lot.remaining += remaining

    def _lot(self, member_pk: int, expires_on: date) -> PointsLot:
        lots = self._loaded[member_pk]
        if expires_on not in lots:
            lots[expires_on] = PointsLot(member_id=member_pk, expires_on=expires_on)
        return lots[expires_on]

    def lots(self, member_pk: int) -> list[PointsLot]:
        return sorted(self._loaded[member_pk].values(), key=lambda lot: lot.expires_on)

    def credit(self, member: Member, expires_on: date, points: int, *, earned: bool = True) -> None:
        """Add points (already added to ``member.balance``) to the lot of ``expires_on``."""
        to_lots = lots_change(member.balance - points, points)
        if member.pk in self._loaded:
            lot = self._lot(member.pk, expires_on)
            lot.earned += points if earned else 0
            lot.remaining += to_lots
        else:
            pending = self._pending[(member.pk, expires_on)]
            pending[0] += points if earned else 0
            pending[1] += to_lots

    def debit(self, member: Member, points: int) -> None:
        """Take points (already taken from ``member.balance``) from the oldest lots first."""
        self.load([member.pk])
        to_take = -lots_change(member.balance + points, -points)
        for lot in self.lots(member.pk):
            if to_take <= 0:
                break
            taken = min(lot.remaining, to_take)
            lot.remaining -= taken
            to_take -= taken

    def flush(self) -> None:
        changed_lots = [lot for lots in self._loaded.values() for lot in lots.values()]
        existing = [lot for lot in changed_lots if lot.pk is not None]
        fresh = [lot for lot in changed_lots if lot.pk is None and (lot.earned or lot.remaining)]
        if existing:
            PointsLot.objects.bulk_update(
                existing, ["earned", "remaining", "expired", "expiry_seq"], batch_size=500
            )
        if fresh:
            PointsLot.objects.bulk_create(fresh)
        if self._pending:
            table = PointsLot._meta.db_table
            with connection.cursor() as cursor:
                # One statement per lot either inserts it or adds to it (SQLite and PostgreSQL).
                cursor.executemany(
                    f"INSERT INTO {table} (member_id, expires_on, earned, remaining, expired, "  # noqa: S608
                    "expiry_seq) VALUES (%s, %s, %s, %s, 0, 0) ON CONFLICT (member_id, expires_on) "
                    f"DO UPDATE SET earned = {table}.earned + excluded.earned, "
                    f"remaining = {table}.remaining + excluded.remaining",
                    [(pk, d, e, r) for (pk, d), (e, r) in self._pending.items()],
                )
            self._pending.clear()
