"""Customer-service adjustments (above a size, a second person approves) and point grants
from other apps (goodwill). Every one is an entry on the member's statement with who and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import Conflict, DomainError, PermissionDenied
from tideover.loyalty import audit, ledger, rewards
from tideover.loyalty.config import program
from tideover.loyalty.ledger import LotBook, Posting
from tideover.loyalty.models import (
    Account,
    Adjustment,
    AdjustmentReason,
    AdjustmentState,
    EntryKind,
    JournalEntry,
    Member,
)

MAX_ADJUSTMENT = 1_000_000


def _validate(points: int, reason_code: str, note: str) -> None:
    if not isinstance(points, int) or points == 0:
        raise DomainError(
            "Enter the points to credit (positive) or debit (negative)", field="points"
        )
    if abs(points) > MAX_ADJUSTMENT:
        raise DomainError(f"At most {MAX_ADJUSTMENT:,} points in one adjustment", field="points")
    if reason_code not in AdjustmentReason.values:
        raise DomainError(
            f"Unknown reason {reason_code!r}; use one of {', '.join(AdjustmentReason.values)}",
            field="reason_code",
        )
    if not (note or "").strip():
        raise DomainError("Say why in the note: the member's statement shows it", field="note")


def request_adjustment(
    member: Member, points: int, reason_code: str, note: str, *, actor: Actor
) -> Adjustment:
    """Credit or debit points now, or hold them for a second person above the approval size."""
    _validate(points, reason_code, note)
    with transaction.atomic():
        member = ledger.lock_members(pks=[member.pk])[member.pk]
        needs_approval = _unapproved_points(member, actor) + abs(points) > program().approval_points
        adjustment = Adjustment.objects.create(
            member=member,
            points=points,
            reason_code=reason_code,
            note=note.strip()[:2000],
            state=AdjustmentState.PENDING if needs_approval else AdjustmentState.POSTED,
            requested_by=actor.user,
            requested_by_name=actor.name,
        )
        if needs_approval:
            audit.record(actor, "adjustment_requested", member, f"#{adjustment.pk} {points:+d}")
        else:
            _post(adjustment, member, actor)
            audit.record(actor, "adjustment_posted", member, f"#{adjustment.pk} {points:+d}")
    return adjustment


def window() -> timedelta:
    return timedelta(hours=max(0, getattr(settings, "LOYALTY_ADJUSTMENT_WINDOW_HOURS", 24)))


def _unapproved_points(member: Member, actor: Actor) -> int:
    """Points this requester moved for this member without a second person, lately.

    Without this, three adjustments of 1,000 would post where one of 3,000 needs approval.
    Credits and debits both count: either way a second person has not looked. Called under
    the member's lock, so two split requests at once are still counted together."""
    since = timezone.now() - window()
    mine = Adjustment.objects.filter(
        member=member, requested_at__gte=since, state=AdjustmentState.POSTED, decided_by_name=""
    )
    mine = (
        mine.filter(requested_by=actor.user)
        if actor.user is not None
        else mine.filter(requested_by__isnull=True, requested_by_name=actor.name)
    )
    return sum(abs(p) for p in mine.values_list("points", flat=True))


def approve_adjustment(adjustment: Adjustment, *, actor: Actor, note: str = "") -> Adjustment:
    """A second person approves a large adjustment, which posts it."""
    return _decide(adjustment, actor=actor, note=note, approve=True)


def reject_adjustment(adjustment: Adjustment, *, actor: Actor, note: str) -> Adjustment:
    """A second person turns a large adjustment down, saying why."""
    if not (note or "").strip():
        raise DomainError("Say why it is rejected", field="note")
    return _decide(adjustment, actor=actor, note=note, approve=False)


def _decide(adjustment: Adjustment, *, actor: Actor, note: str, approve: bool) -> Adjustment:
    if actor.user is None:
        raise PermissionDenied("A person must approve adjustments, not a token")
    with transaction.atomic():
        member = ledger.lock_members(pks=[adjustment.member_id])[adjustment.member_id]
        adjustment = Adjustment.objects.select_for_update().get(pk=adjustment.pk)
        if adjustment.state != AdjustmentState.PENDING:
            raise Conflict(f"This adjustment is already {adjustment.get_state_display().lower()}")
        if adjustment.requested_by_id == actor.user.pk:
            raise PermissionDenied("Someone other than the requester must approve it")
        adjustment.decided_by = actor.user
        adjustment.decided_by_name = actor.name
        adjustment.decided_at = timezone.now()
        adjustment.decision_note = (note or "").strip()[:2000]
        if approve:
            adjustment.state = AdjustmentState.POSTED
            _post(adjustment, member, actor)
        else:
            adjustment.state = AdjustmentState.REJECTED
        adjustment.save()
        verb = "approved" if approve else "rejected"
        audit.record(
            actor, f"adjustment_{verb}", member, f"#{adjustment.pk} {adjustment.points:+d}"
        )
    return adjustment


def _post(adjustment: Adjustment, member: Member, actor: Actor) -> None:
    who = adjustment.requested_by_name
    if adjustment.decided_by_name:
        who = f"{who}, approved by {adjustment.decided_by_name}"
    apply_posting(
        member,
        Posting(
            member=member,
            kind=EntryKind.ADJUSTMENT,
            source_type="adjustment",
            source_id=str(adjustment.pk),
            points=adjustment.points,
            contra=Account.ADJUSTMENTS,
            occurred_at=timezone.now(),
            actor=who,
            reason=f"{adjustment.get_reason_code_display()}: {adjustment.note}",
        ),
        actor,
    )


def apply_posting(member: Member, posting: Posting, actor: Actor) -> None:
    """Post one entry for a locked member, keep lots and balance, issue rewards it earns."""
    if posting.points < 0 and member.balance + posting.points < 0:
        raise DomainError(
            f"The member has {member.balance} points; a debit of {-posting.points} would take "
            "the balance below zero",
            field="points",
        )
    prog = program()
    book = LotBook()
    member.balance += posting.points
    if posting.points > 0:
        book.credit(
            member,
            ledger.expiry_date(posting.occurred_at, prog.points_valid_months),
            posting.points,
        )
    else:
        book.debit(member, -posting.points)
    postings = [posting]
    more, issued = rewards.issue_due(member, book, prog, actor=actor.name)
    postings.extend(more)
    ledger.write(postings)
    ledger.save_balances([member])
    book.flush()
    rewards.save_rewards(issued)


@dataclass(frozen=True, slots=True)
class Grant:
    """Points for one member from one source (e.g. one goodwill offer)."""

    member_pk: int
    points: int
    source_id: str


def grant_points(
    member: Member,
    points: int,
    *,
    source_type: str,
    source_id: str,
    reason: str,
    actor: Actor = SYSTEM,
    earned_at: datetime | None = None,
) -> JournalEntry | None:
    """Give a member points once per source (e.g. a goodwill offer); None if already given.

    ``earned_at`` dates the points (they expire by it, like points from a sale), for balances
    carried over from another system with their earning dates; it defaults to now."""
    granted = grant_points_many(
        [Grant(member.pk, points, source_id)],
        source_type=source_type,
        reason=reason,
        actor=actor,
        earned_at=earned_at,
    )
    if not granted:
        return None
    return JournalEntry.objects.get(source_type=source_type, source_id=granted[0])


def grant_points_many(
    grants: list[Grant],
    *,
    source_type: str,
    reason: str,
    actor: Actor = SYSTEM,
    earned_at: datetime | None = None,
) -> list[str]:
    """Grant points to many members in one transaction, once per source; returns the source
    ids granted now (those granted before, or twice in ``grants``, are left out).

    The batch is what a member-at-a-time grant is, in a handful of statements: members locked
    in id order, one look-up of the sources already posted (under those locks, so two batches
    for one source cannot both pass), then every entry with its two lines, the balances, the
    lots and any rewards the points complete written together."""
    if source_type in {"sale", "return", "reward", "expiry", "reinstate", "adjustment"}:
        raise DomainError(f"{source_type!r} is reserved for the ledger's own entries")
    wanted: dict[str, Grant] = {}
    for grant in grants:
        if not isinstance(grant.points, int) or grant.points <= 0:
            raise DomainError("Grant a positive number of points", field="points")
        wanted.setdefault(str(grant.source_id)[:80], grant)
    if not wanted:
        return []
    prog = program()
    occurred_at = earned_at or timezone.now()
    expires_on = ledger.expiry_date(occurred_at, prog.points_valid_months)
    with transaction.atomic():
        members = ledger.lock_members(pks={g.member_pk for g in wanted.values()})
        done = set(
            JournalEntry.objects.filter(
                source_type=source_type, source_id__in=list(wanted)
            ).values_list("source_id", flat=True)
        )
        book = LotBook()
        postings, issued, touched, granted = [], [], {}, []
        for source_id, grant in wanted.items():
            member = members.get(grant.member_pk)
            if source_id in done or member is None:
                continue
            member.balance += grant.points
            book.credit(member, expires_on, grant.points)
            postings.append(
                Posting(
                    member=member,
                    kind=EntryKind.GRANT,
                    source_type=source_type,
                    source_id=source_id,
                    points=grant.points,
                    contra=Account.ADJUSTMENTS,
                    occurred_at=occurred_at,
                    actor=actor.name,
                    reason=reason[:300],
                )
            )
            more, rewarded = rewards.issue_due(member, book, prog, actor=actor.name)
            postings.extend(more)
            issued.extend(rewarded)
            touched[member.pk] = member
            granted.append((member, source_id, grant.points))
        ledger.write(postings)
        ledger.save_balances(touched.values())
        book.flush()
        rewards.save_rewards(issued)
        audit.record_many(
            actor,
            "points_granted",
            [(m, f"{source_type}:{source_id} {points:+d}") for m, source_id, points in granted],
        )
    return [source_id for _, source_id, _ in granted]
