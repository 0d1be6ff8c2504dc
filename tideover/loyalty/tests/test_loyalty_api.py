import json

import pytest

from tideover.loyalty.models import AuditRecord, Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


def post(client, path, body, **headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


def test_sign_up_stores_the_phone_as_e164_and_consent_with_how(client, api_token, chain):
    response = post(
        client,
        "/api/v1/loyalty/members",
        {
            "name": "Pat Buyer",
            "phone": "(512) 555-0199",
            "email": "Pat@Example.com",
            "consents": {"marketing_sms": True},
            "consent_source": "store sign-up form",
        },
        **api_token("loyalty:write"),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "+15125550199" and body["email"] == "pat@example.com"
    assert body["consent"]["marketing_sms"] is True
    assert body["consent"]["source"] == "store sign-up form"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "X", "phone": "12"}, "phone"),
        ({"name": "X", "email": "not-an-address"}, "email"),
        ({"name": "X", "tier": "platinum"}, "tier"),
        ({"name": "X", "consents": {"marketing_sms": True}}, "consent_source"),
    ],
)
def test_sign_up_refuses_bad_input_naming_the_field(client, api_token, chain, payload, field):
    response = post(client, "/api/v1/loyalty/members", payload, **api_token("loyalty:write"))
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_customer_service_finds_a_member_by_phone_email_or_id(member, client_as):
    client = client_as("customer_service")
    for q in ("512-555-0142", "DANA@example.com", "m0000042"):
        found = client.get("/api/v1/loyalty/members", {"q": q}).json()
        assert [m["loyalty_id"] for m in found] == ["M0000042"], q
    assert AuditRecord.objects.filter(action="member_search").count() == 3


def test_store_agent_token_sees_balances_but_not_contacts(member, client, api_token, chain):
    headers = api_token("loyalty:read", store=chain["stores"]["S001"])
    body = client.get("/api/v1/loyalty/members/M0000042", **headers).json()
    assert body["phone"] is None and body["email"] is None
    balance = client.get("/api/v1/loyalty/members/M0000042/balance", **headers).json()
    assert balance["balance"] == 0 and balance["next_reward_in_points"] == 500


def test_statement_shows_every_entry_with_source_who_and_why(member, client, api_token):
    post_sales([sale(member=member.loyalty_id, cents=5200, sale_id="S001-R1-STMT")])
    entries = client.get(
        "/api/v1/loyalty/members/M0000042/statement", **api_token("loyalty:read")
    ).json()
    assert [e["kind"] for e in entries] == ["reward", "accrual"]
    accrual = entries[1]
    assert (accrual["source_type"], accrual["source_id"]) == ("sale", "S001/S001-R1-STMT")
    assert accrual["actor"] == "system" and "Purchase at S001" in accrual["reason"]
    assert sum(line["points"] for line in accrual["lines"]) == 0


def test_small_adjustment_posts_large_one_waits_for_someone_else(member, client_as):
    service = client_as("customer_service")
    small = post(
        service,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": 200, "reason_code": "missing_points", "note": "receipt 1234 shown"},
    )
    assert small.status_code == 201 and small.json()["state"] == "posted"
    large = post(
        service,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": 5000, "reason_code": "goodwill", "note": "outage apology"},
    ).json()
    assert large["state"] == "pending"
    assert Member.objects.get(pk=member.pk).balance == 200
    admin = client_as("administrator")
    # The requester cannot approve (customer service lacks the capability anyway)...
    assert (
        post(service, f"/api/v1/loyalty/adjustments/{large['id']}/approve", {}).status_code == 403
    )
    approved = post(
        client_as("cx_manager"), f"/api/v1/loyalty/adjustments/{large['id']}/approve", {}
    )
    assert approved.json()["state"] == "posted" and approved.json()["decided_by"] == "cx_manager"
    # 5200 points: ten $5 rewards issued at once, 200 left
    assert Member.objects.get(pk=member.pk).balance == 200
    again = post(admin, f"/api/v1/loyalty/adjustments/{large['id']}/approve", {})
    assert again.status_code == 409


def test_requester_cannot_approve_their_own_large_adjustment(member, client_as):
    admin = client_as("administrator")
    pending = post(
        admin,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": 2000, "reason_code": "goodwill", "note": "n"},
    ).json()
    response = post(admin, f"/api/v1/loyalty/adjustments/{pending['id']}/approve", {})
    assert response.status_code == 403
    assert "other than the requester" in response.json()["detail"]


def test_a_debit_cannot_take_the_balance_below_zero(member, client_as):
    response = post(
        client_as("customer_service"),
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": -10, "reason_code": "correction", "note": "double credit"},
    )
    assert response.status_code == 400
    assert "below zero" in response.json()["detail"]


def test_tokens_cannot_approve_and_need_the_right_scope(member, client, api_token):
    pending = post(
        client,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": 3000, "reason_code": "goodwill", "note": "n"},
        **api_token("loyalty:write"),
    ).json()
    assert pending["requested_by"] == "token:test token"
    refused = post(
        client,
        f"/api/v1/loyalty/adjustments/{pending['id']}/approve",
        {},
        **api_token("loyalty:write"),
    )
    assert refused.status_code == 403
    assert (
        client.get("/api/v1/loyalty/members/M0000042", **api_token("sales:write")).status_code
        == 403
    )


def test_roles_without_member_access_are_refused(member, client_as):
    for role in ("store_associate", "store_manager", "comms", "incident_commander"):
        assert client_as(role).get("/api/v1/loyalty/members/M0000042").status_code == 403, role


def test_unknown_member_and_bad_code_answers_say_what_is_wrong(member, client, api_token):
    headers = api_token("loyalty:read")
    missing = client.get("/api/v1/loyalty/members/NOPE/balance", **headers)
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]
    bad = client.get("/api/v1/loyalty/rewards/ABCD-0000", **headers)
    assert bad.status_code == 400 and "no 0, O, 1 or I" in bad.json()["detail"]
    invalid = post(
        client,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": "many", "reason_code": "x", "note": ""},
        **api_token("loyalty:write"),
    )
    assert invalid.status_code == 422 and "points" in invalid.json()["detail"]


def test_consent_changes_are_recorded_with_when_and_how(member, client_as):
    response = post(
        client_as("customer_service"),
        "/api/v1/loyalty/members/M0000042/consent",
        {"channel": "marketing_email", "granted": True, "source": "phone call"},
    )
    assert response.status_code == 200
    assert response.json()["consent"]["marketing_email"] is True
    record = member.consents.get(channel="marketing_email")
    assert record.granted and record.source == "phone call"
    assert AuditRecord.objects.filter(action="consent_changed").exists()


def test_a_store_agent_reads_many_balances_in_one_request(member, client, api_token, chain):
    headers = api_token("loyalty:read", store=chain["stores"]["S001"])
    answer = client.get("/api/v1/loyalty/balances?ids=m0000042, NOPE,M0000042", **headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "balances": [{"loyalty_id": "M0000042", "balance": 0, "tier": member.tier}],
        "unknown": ["NOPE"],
    }


def test_many_balances_refuse_bad_requests_saying_what_to_fix(member, client, api_token):
    headers = api_token("loyalty:read")
    too_many = ",".join(f"M{i:07d}" for i in range(201))
    refused = client.get(f"/api/v1/loyalty/balances?ids={too_many}", **headers)
    assert refused.status_code in (400, 422) and "At most 200" in refused.json()["detail"]
    empty = client.get("/api/v1/loyalty/balances?ids=,", **headers)
    assert empty.status_code in (400, 422) and "at least one" in empty.json()["detail"]
    assert client.get("/api/v1/loyalty/balances?ids=M0000042").status_code == 401
    wrong_scope = client.get("/api/v1/loyalty/balances?ids=M0000042", **api_token("sales:write"))
    assert wrong_scope.status_code == 403 and "loyalty:read" in wrong_scope.json()["detail"]
