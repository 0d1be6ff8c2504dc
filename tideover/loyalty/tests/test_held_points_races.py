"""A return or void posted while customer service approves the sale's held points, on
PostgreSQL: the approval commits (in another connection) at the worst moment, right after the
posting read what the original earned and before it locked anything."""

import threading

import pytest
from django.db import connection

from tideover.core.actors import Actor
from tideover.loyalty import accrual, holds
from tideover.loyalty.members import create_member
from tideover.loyalty.models import HeldPoints, JournalEntry, Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def small_program(settings):
    settings.LOYALTY_POINTS_PER_DOLLAR = 1
    settings.LOYALTY_SALE_POINTS_CAP = 5_000
    settings.LOYALTY_SALE_POINTS_REVIEW = 1_000
    settings.LOYALTY_REWARD_THRESHOLD_POINTS = 100_000  # no rewards: the balance is points
    settings.SALES_MAX_AMOUNT_CENTS = 10_000_000


@pytest.fixture
def approval_commits_after_the_originals_are_read(monkeypatch, staff):
    """Make a return's read of its original be followed by the approval committing."""
    real = accrual._originals

    def read_then_approve(undoing, earning):
        found = real(undoing, earning)
        if not undoing:
            return found
        errors = []

        def approve():
            try:
                hold = HeldPoints.objects.get()
                holds.approve(hold, actor=Actor.of(staff["customer_service"]))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=approve)
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the approval waited for a lock taken too early"
        assert not errors, errors
        return found

    monkeypatch.setattr(accrual, "_originals", read_then_approve)


def held_sale(cents: int) -> dict:
    create_member(name="Big spender", loyalty_id="M-BIG")
    original = sale(member="M-BIG", cents=cents)
    [posted] = post_sales([original])
    assert posted.points == 0 and HeldPoints.objects.get().state == "pending"
    return original


def balance() -> int:
    return Member.objects.get(loyalty_id="M-BIG").balance


def test_void_posted_while_held_points_are_approved_takes_them_all_back(
    chain, approval_commits_after_the_originals_are_read
):
    original = held_sale(150_000)  # 1,500 points, held
    [result] = post_sales([sale(kind="void", original=original["sale_id"], cents=0)])
    assert result.result == "posted"
    assert HeldPoints.objects.get().state == "approved"
    assert result.points == -1_500
    assert balance() == 0
    reversal = JournalEntry.objects.get(source_type="return")
    assert reversal.related_source_id == f"S001/{original['sale_id']}"


def test_return_posted_while_held_points_are_approved_takes_its_share_back(
    chain, approval_commits_after_the_originals_are_read
):
    original = held_sale(150_000)
    returned = sale(kind="return", original=original["sale_id"], cents=50_000)  # a third
    [result] = post_sales([returned])
    assert result.result == "posted"
    assert result.points == -500
    assert balance() == 1_000
