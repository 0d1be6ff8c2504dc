import json

import pytest

from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale, SaleConflict


def post(client, path, body, headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def agent_s001(api_token, chain):
    return api_token("sales:write", store=chain["stores"]["S001"], name="agent S001")


def test_batch_gives_each_sale_its_own_result(client, agent_s001):
    first = sale()
    clash = {**first, "lines": [{"sku": "X", "quantity": 9, "unit_price_cents": 1}]}
    body = {"sales": [first, first, clash, {"sale_id": "bad one!"}]}
    response = post(client, "/api/v1/sales:batch", body, agent_s001)
    assert response.status_code == 200, response.content
    data = response.json()
    assert [r["result"] for r in data["results"]] == ["posted", "duplicate", "conflict", "rejected"]
    assert (data["posted"], data["duplicate"], data["conflict"], data["rejected"]) == (1, 1, 1, 1)
    assert "sale_id" in data["results"][3]["reason"]
    assert Sale.objects.count() == 1
    assert SaleConflict.objects.get().sale_id == first["sale_id"]


def test_resending_a_batch_posts_nothing_twice(client, agent_s001):
    body = {"sales": [sale(), sale()]}
    post(client, "/api/v1/sales:batch", body, agent_s001)
    again = post(client, "/api/v1/sales:batch", body, agent_s001).json()
    assert [r["result"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert Sale.objects.count() == 2


def test_the_agent_says_which_sales_it_took_offline_and_a_resend_changes_nothing(
    client, agent_s001
):
    offline, online = sale(), sale()
    body = {"sales": [offline, online], "queued_offline": [offline["sale_id"]]}
    assert post(client, "/api/v1/sales:batch", body, agent_s001).json()["posted"] == 2
    flags = dict(Sale.objects.values_list("sale_id", "queued_offline"))
    assert flags == {offline["sale_id"]: True, online["sale_id"]: False}
    # The mark is not the sale's content: sent again either way, both are duplicates as they were.
    again = {"sales": [offline, online], "queued_offline": [online["sale_id"]]}
    assert post(client, "/api/v1/sales:batch", again, agent_s001).json()["duplicate"] == 2
    assert dict(Sale.objects.values_list("sale_id", "queued_offline")) == flags


def test_marking_a_sale_offline_that_is_not_in_the_batch_is_refused(client, agent_s001):
    body = {"sales": [sale()], "queued_offline": ["S001-R1-NOT-HERE"]}
    response = post(client, "/api/v1/sales:batch", body, agent_s001)
    assert response.status_code == 400, response.content
    assert "not in this batch: S001-R1-NOT-HERE" in response.json()["detail"]
    assert response.json()["field"] == "queued_offline"
    assert not Sale.objects.exists()


def test_store_agent_token_posts_only_its_own_store(client, agent_s001):
    body = {"sales": [sale(store="S001"), sale(store="S002")]}
    results = post(client, "/api/v1/sales:batch", body, agent_s001).json()["results"]
    assert results[0]["result"] == "posted"
    assert results[1]["result"] == "rejected"
    assert "S001 only" in results[1]["reason"]


def test_single_sale_endpoint_and_its_validation_errors(client, api_token, chain):
    headers = api_token("sales:write")
    ok = post(client, "/api/v1/sales", sale(store="S003"), headers)
    assert ok.status_code == 200 and ok.json()["result"] == "posted"
    bad = post(client, "/api/v1/sales", {**sale(), "occurred_at": "yesterday"}, headers)
    assert bad.status_code == 422
    assert "occurred_at" in bad.json()["detail"]


def test_posting_needs_the_sales_scope(client, api_token, chain):
    response = post(client, "/api/v1/sales:batch", {"sales": [sale()]}, api_token("loyalty:read"))
    assert response.status_code == 403
    assert "sales:write" in response.json()["detail"]
    assert post(client, "/api/v1/sales:batch", {"sales": [sale()]}, {}).status_code == 401


def test_staff_cannot_post_sales_by_session(client_as):
    response = client_as("administrator").post(
        "/api/v1/sales:batch", json.dumps({"sales": [sale()]}), content_type="application/json"
    )
    assert response.status_code in (403, 401)


def test_empty_or_oversized_batch_is_refused_with_a_message(client, agent_s001, settings):
    assert post(client, "/api/v1/sales:batch", {"sales": []}, agent_s001).status_code == 422
    settings.SALES_MAX_BATCH = 2
    response = post(client, "/api/v1/sales:batch", {"sales": [sale()] * 3}, agent_s001)
    assert response.status_code == 400
    assert "at most 2" in response.json()["detail"]


def test_conflicts_are_listed_for_staff_who_see_sales(client, client_as, agent_s001):
    first = sale()
    post(client, "/api/v1/sales", first, agent_s001)
    post(client, "/api/v1/sales", {**first, "register": "R9"}, agent_s001)
    listed = client_as("store_manager").get("/api/v1/sales/conflicts").json()
    assert [c["sale_id"] for c in listed] == [first["sale_id"]]
    assert client_as("comms").get("/api/v1/sales/conflicts").status_code == 403


def test_a_store_token_reads_only_its_own_sales(client, api_token, chain, agent_s001):
    other = sale(store="S002")
    post(client, "/api/v1/sales", other, api_token("sales:write"))
    assert client.get(f"/api/v1/sales/{other['sale_id']}", **agent_s001).status_code == 404


def test_openapi_document_lists_the_sales_and_loyalty_paths(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/sales:batch" in paths
    assert "/api/v1/loyalty/members/{loyalty_id}/statement" in paths


def test_a_refused_sale_sent_twice_in_one_batch_is_refused_twice_not_called_a_duplicate(
    client, agent_s001
):
    orphan = sale(kind="return", original="S001-R1-NEVER-POSTED", lines=[])
    orphan["lines"] = [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}]
    results = post(client, "/api/v1/sales:batch", {"sales": [orphan, orphan]}, agent_s001)
    assert [r["result"] for r in results.json()["results"]] == ["rejected", "rejected"]
    first, second = results.json()["results"]
    assert first["reason"] == second["reason"]
    assert Sale.objects.count() == 0


def test_a_corrected_copy_after_a_refused_one_in_the_same_batch_is_posted_not_a_conflict(
    client, agent_s001
):
    wrong = sale(codes=["ABCD-EFGH-JKLM"])  # a reward code whose check character is wrong
    fixed = {**wrong, "codes": []}
    again = {**fixed}
    response = post(client, "/api/v1/sales:batch", {"sales": [wrong, fixed, again]}, agent_s001)
    assert [r["result"] for r in response.json()["results"]] == [
        "rejected",
        "posted",
        "duplicate",
    ]
    assert Sale.objects.count() == 1
    assert not SaleConflict.objects.exists()


@pytest.mark.parametrize(
    "line",
    [
        {"sku": "SKU-1", "quantity": 1, "unit_price_cents": "100"},
        {"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100.0},
        {"sku": "SKU-1", "quantity": True, "unit_price_cents": 100},
    ],
)
def test_money_and_quantities_must_be_json_integers(client, agent_s001, line):
    wrong = {**sale(), "lines": [line]}
    response = post(client, "/api/v1/sales:batch", {"sales": [wrong]}, agent_s001)
    result = response.json()["results"][0]
    assert result["result"] == "rejected" and "integer" in result["reason"].lower()
    assert Sale.objects.count() == 0


def test_a_reward_code_longer_than_any_code_is_refused(client, agent_s001):
    response = post(
        client, "/api/v1/sales:batch", {"sales": [sale(codes=["X" * 5000])]}, agent_s001
    )
    result = response.json()["results"][0]
    assert result["result"] == "rejected" and "codes" in result["reason"]


def test_many_differing_copies_of_one_sale_id_are_judged_a_few_rounds_then_refused(
    client, agent_s001
):
    copies = [
        sale(kind="return", original=f"S001-R1-NONE-{n}", sale_id="S001-R1-COPIES", lines=[])
        for n in range(30)
    ]
    for copy in copies:
        copy["lines"] = [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}]
    results = post(client, "/api/v1/sales:batch", {"sales": copies}, agent_s001).json()
    reasons = [r["reason"] for r in results["results"]]
    assert all(r["result"] == "rejected" for r in results["results"])
    assert sum("more than 5 times" in reason for reason in reasons) == 25
    assert Sale.objects.count() == 0
