"""Random sequences of sales, repeats, clashes, returns, rewards, adjustments and expiry runs
against the ledger's promises. ``TIDEOVER_SLOW=1`` runs many more sequences."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.loyalty import adjustments
from tideover.loyalty.expiry import run_expiry
from tideover.loyalty.members import create_member
from tideover.loyalty.models import JournalEntry, JournalLine, Member, PointsLot, Reward
from tideover.sales.models import Sale
from tideover.sales.services import post_sales

SLOW = os.environ.get("TIDEOVER_SLOW") == "1"
START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class Ledger(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.members = [
            create_member(name=f"P{i}", loyalty_id=f"P-{i}", tier=tier)
            for i, tier in enumerate(("member", "cardholder", "member"))
        ]
        User = get_user_model()
        self.clerk = Actor.of(User.objects.create_user("prop-clerk"))
        self.manager = Actor.of(User.objects.create_user("prop-manager"))
        # Rewards are issued at HQ's clock and a sale dated before a code's issue may not spend
        # it, so the sales' own clock never starts behind the real one.
        self.clock = max(START, datetime.now(UTC).replace(microsecond=0))
        self.number = 0
        self.posted: dict[str, dict] = {}  # sale id -> payload, as posted
        self.member_sales: list[str] = []
        self.left: dict[str, int | None] = {}  # sale id -> cents not yet returned (None: voided)
        self.units_left: dict[str, int] = {}  # sale id -> units of its item not yet returned
        self.redeemed: set[str] = set()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _sale(self, member, cents, status="completed", **extra):
        self.number += 1
        self.clock += timedelta(minutes=7)
        return {
            "sale_id": f"P-{self.number}",
            "store": "S001",
            "register": "R1",
            "occurred_at": self.clock.isoformat(),
            "status": status,
            "member_id": member.loyalty_id if member else None,
            "lines": [{"sku": "X", "quantity": 1, "unit_price_cents": cents}] if cents else [],
            "tenders": [{"kind": "cash", "amount_cents": cents}] if cents else [],
            **extra,
        }

    @rule(
        who=st.integers(-1, 2),
        cents=st.integers(1, 30_000),
        status=st.sampled_from(["completed", "completed", "completed", "declined", "voided"]),
    )
    def sale(self, who, cents, status):
        member = self.members[who] if who >= 0 else None
        payload = self._sale(member, cents, status)
        [result] = post_sales([payload])
        assert result.result == "posted", result
        self.posted[payload["sale_id"]] = payload
        if member and status == "completed":
            self.member_sales.append(payload["sale_id"])

    @rule(data=st.data())
    def resend(self, data):
        if not self.posted:
            return
        sale_id = data.draw(st.sampled_from(sorted(self.posted)))
        [result] = post_sales([self.posted[sale_id]])
        assert result.result == "duplicate"

    @rule(data=st.data())
    def clash(self, data):
        if not self.posted:
            return
        sale_id = data.draw(st.sampled_from(sorted(self.posted)))
        changed = {**self.posted[sale_id], "register": "R-other"}
        [result] = post_sales([changed])
        assert result.result == "conflict"

    @rule(data=st.data(), whole=st.booleans(), cents=st.integers(1, 30_000))
    def give_back(self, data, whole, cents):
        if not self.member_sales:
            return
        original = data.draw(st.sampled_from(self.member_sales))
        if whole:
            payload = self._sale(None, 0, kind="void", original_sale_id=original)
        else:
            payload = self._sale(None, cents, kind="return", original_sale_id=original)
        left = self.left.setdefault(original, self.posted[original]["lines"][0]["unit_price_cents"])
        units = self.units_left.setdefault(original, self.posted[original]["lines"][0]["quantity"])
        [result] = post_sales([payload])
        if left is None or (not whole and (cents > left or units < 1)):
            # Nothing is left to take back (voided, returned up to the sale's amount, or every
            # unit of the item already returned: each return line gives back one unit).
            assert result.result == "rejected", result
            assert not Sale.objects.filter(sale_id=payload["sale_id"]).exists()
            return
        assert result.result == "posted", result
        self.left[original] = None if whole else left - cents
        self.units_left[original] = 0 if whole else units - 1
        self.posted[payload["sale_id"]] = payload

    @rule(who=st.integers(0, 2), points=st.integers(-800, 800).filter(bool))
    def adjust(self, who, points):
        member = self.members[who]
        try:
            adjustments.request_adjustment(member, points, "correction", "test", actor=self.clerk)
        except DomainError as exc:
            assert "below zero" in exc.message
            assert points < 0

    @rule(who=st.integers(0, 2), points=st.integers(1001, 3000), approve=st.booleans())
    def large_adjustment(self, who, points, approve):
        pending = adjustments.request_adjustment(
            self.members[who], points, "goodwill", "test", actor=self.clerk
        )
        with pytest.raises(DomainError):
            adjustments.approve_adjustment(pending, actor=self.clerk)
        if approve:
            adjustments.approve_adjustment(pending, actor=self.manager)
        else:
            adjustments.reject_adjustment(pending, actor=self.manager, note="no")

    @rule(
        grants=st.lists(
            st.tuples(st.integers(0, 2), st.integers(1, 700), st.integers(0, 5)), max_size=6
        )
    )
    def batch_grant(self, grants):
        # Sources repeat within a batch and across batches: each posts once.
        adjustments.grant_points_many(
            [adjustments.Grant(self.members[w].pk, p, f"g{s}") for w, p, s in grants],
            source_type="goodwill",
            reason="test",
        )

    @rule(data=st.data())
    def redeem(self, data):
        codes = sorted(
            Reward.objects.filter(redeemed_at__isnull=True).values_list("code", flat=True)
        )
        if not codes:
            return
        code = data.draw(st.sampled_from(codes))
        first = self._sale(None, 1000, codes=[code])
        [result] = post_sales([first])
        if result.result == "posted":
            assert result.redeemed == [code]
            self.redeemed.add(code)
            self.posted[first["sale_id"]] = first
        else:
            assert "expired" in result.reason
        second = self._sale(None, 1000, codes=[code])
        [again] = post_sales([second])
        assert again.result == "rejected"

    @rule(days=st.integers(1, 400))
    def time_passes_and_expiry_runs(self, days):
        self.clock += timedelta(days=days)
        run_expiry(today=self.clock.date())

    @invariant()
    def every_entry_balances(self):
        unbalanced = (
            JournalLine.objects.values("entry").annotate(total=Sum("points")).exclude(total=0)
        )
        assert not unbalanced.exists()
        assert not JournalEntry.objects.filter(lines__isnull=True).exists()

    @invariant()
    def balances_equal_their_lines_and_lots(self):
        for member in Member.objects.filter(loyalty_id__startswith="P-"):
            lines = JournalLine.objects.filter(member=member, account="member_points")
            assert member.balance == (lines.aggregate(s=Sum("points"))["s"] or 0)
            lots = PointsLot.objects.filter(member=member)
            assert not lots.filter(remaining__lt=0).exists()
            assert (lots.aggregate(s=Sum("remaining"))["s"] or 0) == max(member.balance, 0)
            if member.balance < 0:
                # Only a return of points already turned into a reward may do this.
                assert member.entries.filter(kind="reversal").exists()

    @invariant()
    def nothing_posts_twice(self):
        assert Sale.objects.filter(sale_id__startswith="P-").count() == len(self.posted)
        sources = JournalEntry.objects.values("source_type", "source_id")
        assert sources.count() == sources.distinct().count()
        assert (
            set(Reward.objects.filter(~Q(redeemed_at=None)).values_list("code", flat=True))
            == self.redeemed
        )


def test_ledger_keeps_its_promises_under_random_sequences(db, chain):
    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=300 if SLOW else 20,
            stateful_step_count=40 if SLOW else 25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
