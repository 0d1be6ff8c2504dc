"""Points from one sale are capped, and above the review size held for a person."""

import pytest

from tideover.core.actors import Actor
from tideover.core.errors import Conflict, DomainError
from tideover.loyalty import holds
from tideover.loyalty.members import create_member
from tideover.loyalty.models import AuditRecord, HeldPoints, JournalEntry, Member, Reward
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


@pytest.fixture(autouse=True)
def small_program(settings):
    settings.LOYALTY_POINTS_PER_DOLLAR = 1
    settings.LOYALTY_SALE_POINTS_CAP = 2_000
    settings.LOYALTY_SALE_POINTS_REVIEW = 1_000
    settings.LOYALTY_REWARD_THRESHOLD_POINTS = 500
    settings.SALES_MAX_AMOUNT_CENTS = 10_000_000


@pytest.fixture
def member(chain):
    return create_member(name="Big spender", loyalty_id="M-BIG")


def one(payload):
    [result] = post_sales([payload])
    return result


def balance():
    return Member.objects.get(loyalty_id="M-BIG").balance


def test_points_up_to_the_review_size_post_at_once(member):
    result = one(sale(member="M-BIG", cents=100_000))  # $1,000: 1,000 points
    assert result.points == 1_000 and not HeldPoints.objects.exists()


def test_points_above_the_review_size_are_held_not_posted(member):
    result = one(sale(member="M-BIG", cents=150_000))
    assert result.result == "posted" and result.points == 0
    assert any("1,500 points held for review" in n for n in result.notes)
    hold = HeldPoints.objects.get()
    assert (hold.state, hold.points, hold.sale_key) == ("pending", 1_500, f"S001/{result.sale_id}")
    assert balance() == 0
    assert not JournalEntry.objects.filter(source_type="sale").exists()


def test_points_from_one_sale_are_capped(member):
    result = one(sale(member="M-BIG", cents=5_000_000))  # would earn 50,000
    assert any("capped at 2,000" in n and "50,000" in n for n in result.notes)
    assert HeldPoints.objects.get().points == 2_000


def test_approving_held_points_posts_them_with_rewards_and_an_audit(member, staff):
    one(sale(member="M-BIG", cents=150_000))
    hold = HeldPoints.objects.get()
    done = holds.approve(hold, actor=Actor.of(staff["customer_service"]), note="known customer")
    assert done.state == "approved" and done.decided_by_name == "customer_service"
    entry = JournalEntry.objects.get(source_type="sale")
    assert (entry.source_id, entry.points) == (hold.sale_key, 1_500)
    assert "approved by customer_service" in entry.actor
    assert Reward.objects.filter(member=member).count() == 3  # 1,500 points, a reward per 500
    assert balance() == 0
    audit = AuditRecord.objects.get(action="held_points_approved")
    assert hold.sale_key in audit.detail
    with pytest.raises(Conflict):
        holds.approve(hold, actor=Actor.of(staff["cx_manager"]))


def test_rejecting_held_points_needs_a_reason_and_posts_nothing(member, staff):
    one(sale(member="M-BIG", cents=150_000))
    hold = HeldPoints.objects.get()
    with pytest.raises(DomainError):
        holds.reject(hold, actor=Actor.of(staff["cx_manager"]), note=" ")
    holds.reject(hold, actor=Actor.of(staff["cx_manager"]), note="test till")
    assert HeldPoints.objects.get().state == "rejected"
    assert balance() == 0 and not JournalEntry.objects.exists()
    assert AuditRecord.objects.filter(action="held_points_rejected").count() == 1


def test_a_return_of_a_held_sale_takes_its_share_off_the_held_points(member):
    original = sale(member="M-BIG", cents=200_000)
    one(original)
    back = one(sale(kind="return", original=original["sale_id"], cents=50_000))
    assert back.result == "posted" and back.points == 0
    assert HeldPoints.objects.get().points == 1_500
    one(sale(kind="void", original=original["sale_id"], cents=0))
    hold = HeldPoints.objects.get()
    assert (hold.state, hold.points) == ("cancelled", 0)
    assert balance() == 0


def test_a_sale_and_its_void_in_one_batch_leave_nothing_held(member):
    original = sale(member="M-BIG", cents=200_000)
    post_sales([original, sale(kind="void", original=original["sale_id"], cents=0)])
    assert HeldPoints.objects.get().state == "cancelled"


def test_a_token_cannot_review_held_points(member):
    one(sale(member="M-BIG", cents=150_000))
    with pytest.raises(DomainError):
        holds.approve(HeldPoints.objects.get(), actor=Actor(name="token:x"))


def test_review_queue_page_approves_for_customer_service(member, client_as):
    one(sale(member="M-BIG", cents=150_000))
    hold = HeldPoints.objects.get()
    page = client_as("customer_service").get("/console/loyalty/held/")
    assert page.status_code == 200 and hold.sale_id in page.content.decode()
    answer = client_as("customer_service").post(
        f"/console/loyalty/held/{hold.pk}/decide/", {"decision": "approve", "note": ""}
    )
    assert answer.status_code == 302
    assert HeldPoints.objects.get().state == "approved" and balance() == 0
    assert Reward.objects.filter(member=member).count() == 3


def test_roles_without_the_capability_cannot_decide(member, client_as):
    one(sale(member="M-BIG", cents=150_000))
    hold = HeldPoints.objects.get()
    for role in ("comms", "store_manager", "incident_commander"):
        answer = client_as(role).post(
            f"/console/loyalty/held/{hold.pk}/decide/", {"decision": "approve"}
        )
        assert answer.status_code == 403, role
    assert HeldPoints.objects.get().state == "pending"


def test_the_held_queue_api_lists_approves_and_rejects_with_an_audit(member, client_as):
    import json

    first = one(sale(member="M-BIG", cents=150_000))
    one(sale(member="M-BIG", cents=120_000))
    staff_client = client_as("cx_manager")
    queue = staff_client.get("/api/v1/loyalty/held").json()
    assert [h["sale_id"] for h in queue] == [first.sale_id, queue[1]["sale_id"]]
    assert (queue[0]["points"], queue[0]["state"], queue[0]["store"]) == (1_500, "pending", "S001")

    def decide(hold_id, verb, note=""):
        return staff_client.post(
            f"/api/v1/loyalty/held/{hold_id}/{verb}",
            json.dumps({"note": note}),
            content_type="application/json",
        )

    assert decide(queue[1]["id"], "reject").status_code == 400  # a rejection says why
    rejected = decide(queue[1]["id"], "reject", "test till")
    assert rejected.status_code == 200 and rejected.json()["decided_by"] == "cx_manager"
    approved = decide(queue[0]["id"], "approve", "known customer").json()
    assert approved["state"] == "approved" and approved["decision_note"] == "known customer"
    assert JournalEntry.objects.get(source_type="sale").points == 1_500
    assert decide(queue[0]["id"], "approve").status_code == 409  # decided once
    assert decide(99_999, "approve").status_code == 404
    assert staff_client.get("/api/v1/loyalty/held").json() == []
    done = staff_client.get("/api/v1/loyalty/held?state=approved").json()
    assert [h["id"] for h in done] == [queue[0]["id"]]
    assert staff_client.get("/api/v1/loyalty/held?state=nonsense").status_code == 400
    assert AuditRecord.objects.filter(action__startswith="held_points_").count() == 2


def test_tokens_and_roles_without_the_capability_cannot_use_the_held_queue_api(
    member, client, client_as, api_token
):
    one(sale(member="M-BIG", cents=150_000))
    hold = HeldPoints.objects.get()
    for headers in (api_token("loyalty:write"), api_token("loyalty:read")):
        assert client.get("/api/v1/loyalty/held", **headers).status_code == 403
        refused = client.post(f"/api/v1/loyalty/held/{hold.pk}/approve", **headers)
        assert refused.status_code == 403
    for role in ("comms", "store_manager", "incident_commander"):
        assert client_as(role).get("/api/v1/loyalty/held").status_code == 403, role
    assert HeldPoints.objects.get().state == "pending"


def test_the_member_hears_of_held_points_only_through_what_approval_posts(member, staff):
    """Policy: a hold and a rejection are internal (telling a suspected fraud it is under
    review tips it off); approved points post to the statement, and the rewards they
    complete are announced like any other reward."""
    from tideover.loyalty.models import MemberNotice

    one(sale(member="M-BIG", cents=150_000))
    one(sale(member="M-BIG", cents=120_000))
    assert not MemberNotice.objects.exists()
    first, second = HeldPoints.objects.order_by("pk")
    holds.reject(second, actor=Actor.of(staff["cx_manager"]), note="test till")
    assert not MemberNotice.objects.exists()
    holds.approve(first, actor=Actor.of(staff["cx_manager"]))
    assert MemberNotice.objects.filter(kind="reward_issued").count() == 3
    assert MemberNotice.objects.count() == 3


def test_returning_the_rest_after_an_approval_takes_back_the_rest_of_the_points(
    member, staff, settings
):
    """Half returned while held (the hold shrinks), the hold approved, the other half
    returned: every point the sale earned is gone, none left for goods that came back."""
    settings.LOYALTY_REWARD_THRESHOLD_POINTS = 100_000
    lines = [
        {"sku": "A", "quantity": 1, "unit_price_cents": 75_000},
        {"sku": "B", "quantity": 1, "unit_price_cents": 75_000},
    ]
    bought = sale(member="M-BIG", lines=lines)
    one(bought)
    one(sale(kind="return", original=bought["sale_id"], lines=lines[:1], cents=0))
    hold = HeldPoints.objects.get()
    assert (hold.held, hold.points) == (1_500, 750)
    holds.approve(hold, actor=Actor.of(staff["customer_service"]))
    assert balance() == 750
    rest = one(sale(kind="return", original=bought["sale_id"], lines=lines[1:], cents=0))
    assert rest.points == -750 and balance() == 0
