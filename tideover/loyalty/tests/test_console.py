from tideover.loyalty.models import Adjustment, AuditRecord, Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


def test_search_by_phone_opens_the_member_page(member, client_as):
    response = client_as("customer_service").get("/console/loyalty/", {"q": "+1 512 555 0142"})
    assert response.status_code == 302
    assert response["Location"] == "/console/loyalty/members/M0000042/"


def test_member_page_shows_balance_rewards_statement_and_messages(member, client_as):
    post_sales([sale(member=member.loyalty_id, cents=5300)])
    page = client_as("customer_service").get("/console/loyalty/members/M0000042/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<strong id="balance">30</strong>' in html
    assert member.rewards.get().code in html
    assert "Purchase at S001" in html and "Your $5.00 reward is ready" in html
    assert AuditRecord.objects.filter(action="member_viewed", actor="customer_service").exists()


def test_adjustment_form_posts_and_large_ones_go_to_the_approval_list(member, client_as):
    service = client_as("customer_service")
    url = "/console/loyalty/members/M0000042/adjust/"
    ok = service.post(url, {"points": 50, "reason_code": "missing_points", "note": "receipt"})
    assert ok.status_code == 302
    assert Member.objects.get(pk=member.pk).balance == 50
    service.post(url, {"points": 1500, "reason_code": "goodwill", "note": "apology"})
    pending = Adjustment.objects.get(state="pending")
    listing = client_as("cx_manager").get("/console/loyalty/adjustments/").content.decode()
    assert f"/console/loyalty/adjustments/{pending.pk}/decide/" in listing
    client_as("cx_manager").post(
        f"/console/loyalty/adjustments/{pending.pk}/decide/", {"decision": "approve"}
    )
    assert Adjustment.objects.get(pk=pending.pk).state == "posted"


def test_bad_adjustment_comes_back_with_the_message(member, client_as):
    response = client_as("customer_service").post(
        "/console/loyalty/members/M0000042/adjust/",
        {"points": -5, "reason_code": "correction", "note": "x"},
    )
    assert response.status_code == 400
    assert "below zero" in response.content.decode()


def test_console_pages_refuse_roles_without_the_capability(member, client_as, client):
    for role in ("store_associate", "comms", "outsider"):
        assert client_as(role).get("/console/loyalty/members/M0000042/").status_code == 403
    assert client_as("comms").post("/console/loyalty/members/M0000042/adjust/").status_code == 403
    assert client.get("/console/loyalty/").status_code == 302  # to the login page
