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
import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tideover.loyalty.models import Account, JournalEntry, JournalLine, Member, PointsLot
from tideover.sales.bulk import insert_rows


@dataclass(slots=True)
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


@dataclass(slots=True)
class MemberState:
    """The columns the hot path needs of a locked member (a model instance costs more)."""

    pk: int
    loyalty_id: str
    tier: str
    balance: int


def lock_members(*, pks=(), loyalty_ids=(), light: bool = False) -> dict[int, Member]:
    """Members by pk, locked for this transaction in pk order (so batches never deadlock).

    ``light`` gives ``MemberState``s instead of model instances."""
    from django.db.models import Q

    query = Member.objects.select_for_update().filter(
        Q(pk__in=list(pks)) | Q(loyalty_id__in=list(loyalty_ids))
    )
    if light and connection.vendor == "postgresql":
        # Arrays instead of hundreds of placeholders; FOR UPDATE in id order as below.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, loyalty_id, tier, balance FROM {Member._meta.db_table} "  # noqa: S608
                "WHERE id = ANY(%s) OR loyalty_id = ANY(%s) ORDER BY id FOR UPDATE",
                [list(pks), list(loyalty_ids)],
            )
            return {row[0]: MemberState(*row) for row in cursor.fetchall()}
    if light:
        rows = query.order_by("pk").values_list("pk", "loyalty_id", "tier", "balance")
        return {row[0]: MemberState(*row) for row in rows}
    return {m.pk: m for m in query.order_by("pk")}


ENTRY_FIELDS = [
    "source_type",
    "source_id",
    "kind",
    "member",
    "points",
    "occurred_at",
    "posted_at",
    "actor",
    "reason",
    "related_source_id",
]


def write(postings: list[Posting]) -> list[int]:
    """Insert the entries and their two lines each (they sum to zero by construction)."""
    if not postings:
        return []
    now = timezone.now()
    ids = insert_rows(
        JournalEntry,
        ENTRY_FIELDS,
        [
            (
                p.source_type,
                p.source_id,
                str(p.kind),
                p.member.pk,
                p.points,
                p.occurred_at,
                now,
                p.actor[:150],
                p.reason[:300],
                p.related_source_id,
            )
            for p in postings
        ],
        returning=True,
    )
    lines = []
    for entry_id, p in zip(ids, postings, strict=True):
        lines.append((entry_id, Account.MEMBER_POINTS.value, p.member.pk, p.points))
        lines.append((entry_id, str(p.contra), None, -p.points))
    insert_rows(JournalLine, ["entry", "account", "member", "points"], lines)
    return ids


def write_once(posting: Posting) -> int | None:
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
    """Write the members' balances in one statement (UPDATE ... FROM VALUES: both databases)."""
    rows = [(m.pk, m.balance) for m in members]
    table = Member._meta.db_table
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET balance = v.b FROM unnest(%s::bigint[], %s::bigint[]) "  # noqa: S608
                f"AS v(id, b) WHERE {table}.id = v.id",
                [[r[0] for r in rows], [r[1] for r in rows]],
            )
            return
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            cursor.execute(
                f"UPDATE {table} SET balance = v.column2 FROM (VALUES "  # noqa: S608
                + ", ".join(["(%s, %s)"] * len(chunk))
                + f") AS v WHERE {table}.id = v.column1",
                [value for row in chunk for value in row],
            )


def expiry_date(occurred_at: datetime, months: int, tz=None) -> date:
    """Points earned in a month last until the end of the same month ``months`` later.

    Pass ``tz`` (the current time zone) when calling in a loop: looking it up costs more than
    the arithmetic."""
    local = occurred_at.astimezone(tz or timezone.get_current_timezone()).date()
    return _month_end(local.year, local.month, months)


@functools.lru_cache(maxsize=512)
def _month_end(year: int, month: int, months: int) -> date:
    local = date(year, month, 1)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    if year > date.max.year:
        # Sales validation keeps such dates out; this keeps any other caller from a 500.
        return date.max
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
        table = PointsLot._meta.db_table
        if existing:
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET earned = %s, remaining = %s, expired = %s, "  # noqa: S608
                    "expiry_seq = %s WHERE id = %s",
                    [(x.earned, x.remaining, x.expired, x.expiry_seq, x.pk) for x in existing],
                )
        if fresh:
            PointsLot.objects.bulk_create(fresh)
        if self._pending:
            rows = [(pk, d, e, r) for (pk, d), (e, r) in self._pending.items()]
            upsert = (
                " ON CONFLICT (member_id, expires_on) DO UPDATE SET "
                f"earned = {table}.earned + excluded.earned, "
                f"remaining = {table}.remaining + excluded.remaining"
            )
            columns = "(member_id, expires_on, earned, remaining, expired, expiry_seq)"
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(
                        f"INSERT INTO {table} {columns} SELECT m, d, e, r, 0, 0 FROM unnest("  # noqa: S608
                        "%s::bigint[], %s::date[], %s::bigint[], %s::bigint[]) AS v(m, d, e, r)"
                        + upsert,
                        [list(column) for column in zip(*rows, strict=True)],
                    )
                else:
                    for start in range(0, len(rows), 5000):
                        chunk = rows[start : start + 5000]
                        # One statement inserts each lot or adds to it.
                        cursor.execute(
                            f"INSERT INTO {table} {columns} VALUES "  # noqa: S608
                            + ", ".join(["(%s, %s, %s, %s, 0, 0)"] * len(chunk))
                            + upsert,
                            [value for row in chunk for value in row],
                        )
            self._pending.clear()
