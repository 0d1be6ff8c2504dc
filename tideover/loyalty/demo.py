"""Members for the demo chain, fast: bulk inserts, opening balances posted as real journal
entries (so every balance still equals the sum of its lines)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tideover.loyalty import ledger
from tideover.loyalty.config import program
from tideover.loyalty.models import Account, EntryKind, JournalEntry, JournalLine, Member, PointsLot
from tideover.sales.bulk import insert_rows

FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Riley",
    "Casey",
    "Morgan",
    "Taylor",
    "Jamie",
    "Avery",
    "Quinn",
    "Drew",
    "Robin",
    "Kai",
    "Noor",
    "Lee",
    "Ari",
]
LAST = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Patel",
    "Johnson",
    "Brown",
    "Kim",
    "Lopez",
    "Davis",
    "Clark",
    "Lewis",
    "Young",
    "Hall",
    "Allen",
]
AREAS = [
    "212",
    "312",
    "415",
    "512",
    "617",
    "702",
    "713",
    "737",
    "206",
    "303",
    "404",
    "503",
    "602",
    "615",
    "619",
    "720",
    "801",
    "813",
    "919",
    "971",
]
CHUNK = 5000


def loyalty_id(number: int) -> str:
    return f"M{number:07d}"


def seed_members(
    count: int = 50_000, stores=None, *, seed: int = 11, opening_share: float = 0.7
) -> dict:
    """Create members M0000001..M{count} unless they exist; most get an opening balance.

    ``stores`` (a list of Store, optional) become the members' home stores. Returns counts.
    """
    rng = random.Random(seed)
    stores = list(stores or [])
    tiers = list(program().tier_multipliers)
    threshold = program().reward_threshold
    months = program().points_valid_months
    existing = set(
        Member.objects.filter(loyalty_id__startswith="M").values_list("loyalty_id", flat=True)
    )
    now = timezone.now()
    created = 0
    for start in range(1, count + 1, CHUNK):
        numbers = [
            n for n in range(start, min(start + CHUNK, count + 1)) if loyalty_id(n) not in existing
        ]
        if not numbers:
            continue
        with transaction.atomic():
            created += _seed_chunk(
                numbers, rng, stores, tiers, threshold, months, now, opening_share
            )
    return {"members": Member.objects.count(), "created": created}


MEMBER_FIELDS = [
    "loyalty_id", "name", "phone_e164", "email", "tier", "home_store", "balance",
    "consent_transactional", "consent_marketing_sms", "consent_marketing_email",
    "consent_updated_at", "consent_source", "created_at",
]  # fmt: skip
ENTRY_FIELDS = [
    "source_type", "source_id", "kind", "member", "points", "occurred_at", "posted_at", "actor",
    "reason", "related_source_id",
]  # fmt: skip
BALANCE = MEMBER_FIELDS.index("balance")


def _seed_chunk(numbers, rng, stores, tiers, threshold, months, now, opening_share) -> int:
    # Plain rows through multi-row INSERTs (sales.bulk): the ORM's bulk_create spent most of a
    # 50,000-member seed building SQL. The draws from ``rng`` are in the order they always were,
    # so the same seed makes the same members.
    rows = []
    for n in numbers:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        # 555-01xx numbers are reserved for fiction: the demo never texts a real phone.
        phone = f"+1{rng.choice(AREAS)}55501{rng.randrange(100):02d}" if rng.random() < 0.8 else ""
        email = f"{first}.{last}.{n}@example.com".lower() if rng.random() < 0.7 else ""
        tier = tiers[1] if len(tiers) > 1 and rng.random() < 0.2 else tiers[0]
        home = rng.choice(stores).pk if stores else None
        sms, mail = rng.random() < 0.4, rng.random() < 0.5
        created_at = now - timedelta(days=rng.randrange(1, 900))
        rows.append([loyalty_id(n), f"{first} {last}", phone, email, tier, home, 0, True, sms,
                     mail, now, "demo sign-up", created_at])  # fmt: skip
    opening = []
    for row in rows:
        if rng.random() < opening_share:
            row[BALANCE] = rng.randrange(10, threshold)
            opening.append(row)
    ids = insert_rows(Member, MEMBER_FIELDS, [tuple(r) for r in rows], returning=True)
    pk_of = {row[0]: pk for row, pk in zip(rows, ids, strict=True)}
    reason = "Opening balance carried over from the old loyalty system"
    entries = insert_rows(
        JournalEntry,
        ENTRY_FIELDS,
        [
            (
                "opening",
                m[0],
                EntryKind.GRANT,
                pk_of[m[0]],
                m[BALANCE],
                m[-1],
                now,
                "demo seed",
                reason,
                "",
            )
            for m in opening
        ],  # fmt: skip
        returning=True,
    )
    lines = []
    for entry_id, m in zip(entries, opening, strict=True):
        lines.append((entry_id, Account.MEMBER_POINTS, pk_of[m[0]], m[BALANCE]))
        lines.append((entry_id, Account.ADJUSTMENTS, None, -m[BALANCE]))
    insert_rows(JournalLine, ["entry", "account", "member", "points"], lines)
    insert_rows(
        PointsLot,
        ["member", "expires_on", "earned", "remaining", "expired", "expiry_seq"],
        [
            (
                pk_of[m[0]],
                ledger.expiry_date(now - timedelta(days=rng.randrange(0, 360)), months),
                m[BALANCE],
                m[BALANCE],
                0,
                0,
            )
            for m in opening
        ],  # fmt: skip
    )
    return len(rows)
