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


def _seed_chunk(numbers, rng, stores, tiers, threshold, months, now, opening_share) -> int:
    members = []
    for n in numbers:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        members.append(
            Member(
                loyalty_id=loyalty_id(n),
                name=f"{first} {last}",
                # 555-01xx numbers are reserved for fiction: the demo never texts a real phone.
                phone_e164=f"+1{rng.choice(AREAS)}55501{rng.randrange(100):02d}"
                if rng.random() < 0.8
                else "",
                email=f"{first}.{last}.{n}@example.com".lower() if rng.random() < 0.7 else "",
                tier=tiers[1] if len(tiers) > 1 and rng.random() < 0.2 else tiers[0],
                home_store=rng.choice(stores) if stores else None,
                consent_transactional=True,
                consent_marketing_sms=rng.random() < 0.4,
                consent_marketing_email=rng.random() < 0.5,
                consent_updated_at=now,
                consent_source="demo sign-up",
                created_at=now - timedelta(days=rng.randrange(1, 900)),
            )
        )
    Member.objects.bulk_create(members, batch_size=2000)
    opening = []
    for member in members:
        if rng.random() < opening_share:
            member.balance = rng.randrange(10, threshold)
            opening.append(member)
    entries = JournalEntry.objects.bulk_create(
        [
            JournalEntry(
                source_type="opening",
                source_id=m.loyalty_id,
                kind=EntryKind.GRANT,
                member_id=m.pk,
                points=m.balance,
                occurred_at=m.created_at,
                posted_at=now,
                actor="demo seed",
                reason="Opening balance carried over from the old loyalty system",
            )
            for m in opening
        ],
        batch_size=2000,
    )
    lines = []
    for entry, m in zip(entries, opening, strict=True):
        lines.append(
            JournalLine(
                entry_id=entry.pk, account=Account.MEMBER_POINTS, member_id=m.pk, points=m.balance
            )
        )
        lines.append(
            JournalLine(
                entry_id=entry.pk, account=Account.ADJUSTMENTS, member_id=None, points=-m.balance
            )
        )
    JournalLine.objects.bulk_create(lines, batch_size=4000)
    PointsLot.objects.bulk_create(
        [
            PointsLot(
                member_id=m.pk,
                expires_on=ledger.expiry_date(now - timedelta(days=rng.randrange(0, 360)), months),
                earned=m.balance,
                remaining=m.balance,
            )
            for m in opening
        ],
        batch_size=2000,
    )
    ledger.save_balances(opening)
    return len(members)
