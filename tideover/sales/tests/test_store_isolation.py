"""One store cannot block, read or undo another store's sales: sale ids are unique per store."""

import json

import pytest

from tideover.loyalty.members import create_member
from tideover.loyalty.models import JournalEntry, Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale, SaleConflict
from tideover.sales.services import post_sales


def post(client, path, body, headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def agents(api_token, chain):
    return {
        code: api_token("sales:write", store=chain["stores"][code], name=f"agent {code}")
        for code in ("S001", "S002")
    }


def test_a_store_cannot_block_another_stores_sale_id(client, agents):
    # S001's token claims the id S002's register will use next...
    squat = sale(store="S001", sale_id="S002-R1-00000042", cents=1)
    assert post(client, "/api/v1/sales", squat, agents["S001"]).json()["result"] == "posted"
    # ...and S002's real sale with that id still posts, as S002's own.
    real = sale(store="S002", sale_id="S002-R1-00000042", cents=2500)
    answer = post(client, "/api/v1/sales", real, agents["S002"]).json()
    assert answer["result"] == "posted", answer
    assert sorted(Sale.objects.values_list("store__code", "total_cents")) == [
        ("S001", 1),
        ("S002", 2500),
    ]
    assert not SaleConflict.objects.exists()
    # Each store's resend is its own duplicate.
    assert post(client, "/api/v1/sales", real, agents["S002"]).json()["result"] == "duplicate"


def test_a_conflict_is_only_ever_between_postings_of_the_same_store(client, agents):
    first = sale(store="S002", sale_id="SHARED-1")
    post(client, "/api/v1/sales", sale(store="S001", sale_id="SHARED-1", cents=9), agents["S001"])
    post(client, "/api/v1/sales", first, agents["S002"])
    clash = post(client, "/api/v1/sales", {**first, "register": "R9"}, agents["S002"]).json()
    assert clash["result"] == "conflict"
    assert list(SaleConflict.objects.values_list("store_code", flat=True)) == ["S002"]


def test_store_manager_sees_only_own_stores_conflicts(client, client_as, agents):
    for code, register in (("S001", "R-S001-EDIT"), ("S002", "R-S002-EDIT")):
        first = sale(store=code, sale_id="SAME-ID")
        post(client, "/api/v1/sales", first, agents[code])
        post(client, "/api/v1/sales", {**first, "register": register}, agents[code])
    manager = client_as("store_manager")  # manages S001
    listed = manager.get("/api/v1/sales/conflicts").json()
    assert [(c["store_code"], c["payload"]["register"]) for c in listed] == [
        ("S001", "R-S001-EDIT")
    ]
    page = manager.get("/console/sales/conflicts/?all=1").content.decode()
    assert "R-S001-EDIT" in page and "R-S002-EDIT" not in page
    everyone = client_as("incident_commander").get("/api/v1/sales/conflicts").json()
    assert sorted(c["store_code"] for c in everyone) == ["S001", "S002"]


def test_store_manager_cannot_review_another_stores_conflict(client, client_as, agents):
    first = sale(store="S002", sale_id="S2-ONLY")
    post(client, "/api/v1/sales", first, agents["S002"])
    post(client, "/api/v1/sales", {**first, "register": "R9"}, agents["S002"])
    conflict = SaleConflict.objects.get()
    response = client_as("store_manager").post(f"/console/sales/conflicts/{conflict.pk}/review/")
    assert response.status_code == 403
    conflict.refresh_from_db()
    assert conflict.reviewed_at is None


def test_the_same_sale_id_at_two_stores_earns_points_twice(chain):
    member = create_member(name="Two stores", loyalty_id="M-TWO")
    for code in ("S001", "S002"):
        [result] = post_sales([sale(store=code, sale_id="R1-000001", member="M-TWO", cents=3000)])
        assert result.result == "posted" and result.points == 30, result
    assert Member.objects.get(pk=member.pk).balance == 60
    assert sorted(JournalEntry.objects.values_list("source_id", flat=True)) == [
        "S001/R1-000001",
        "S002/R1-000001",
    ]


def test_a_return_undoes_its_own_stores_sale_when_the_id_is_shared(chain):
    member = create_member(name="Own store", loyalty_id="M-OWN")
    post_sales([sale(store="S001", sale_id="R1-7", member="M-OWN", cents=1000)])
    post_sales([sale(store="S002", sale_id="R1-7", cents=50_000)])
    [result] = post_sales([sale(store="S001", kind="return", original="R1-7", cents=1000)])
    assert result.result == "posted" and result.points == -10, result
    back = Sale.objects.get(sale_id=result.sale_id)
    assert (back.original.store.code, back.original.total_cents) == ("S001", 1000)
    assert Member.objects.get(pk=member.pk).balance == 0


def test_a_return_at_another_store_finds_the_one_sale_with_that_id(chain):
    create_member(name="Elsewhere", loyalty_id="M-ELSE")
    post_sales([sale(store="S003", sale_id="S003-R1-1", member="M-ELSE", cents=2000)])
    [result] = post_sales([sale(store="S001", kind="return", original="S003-R1-1", cents=2000)])
    assert result.result == "posted" and result.points == -20, result


def test_an_ambiguous_original_asks_for_original_store(chain):
    post_sales([sale(store="S002", sale_id="DUP-1"), sale(store="S003", sale_id="DUP-1")])
    refund = sale(store="S001", kind="return", original="DUP-1")
    [ambiguous] = post_sales([refund])
    assert ambiguous.result == "rejected" and "original_store" in ambiguous.reason
    assert "S002, S003" in ambiguous.reason
    [named] = post_sales([{**refund, "original_store": "S003"}])
    assert named.result == "posted", named
    assert Sale.objects.get(sale_id=refund["sale_id"]).original.store.code == "S003"


def test_reading_a_shared_sale_id_names_the_store(client, client_as, api_token, agents):
    for code, cents in (("S001", 100), ("S002", 200)):
        post(client, "/api/v1/sales", sale(store=code, sale_id="READ-1", cents=cents), agents[code])
    own = client.get("/api/v1/sales/READ-1", **agents["S002"]).json()
    assert (own["store"], own["total_cents"]) == ("S002", 200)
    hq = client_as("incident_commander")
    ambiguous = hq.get("/api/v1/sales/READ-1")
    assert ambiguous.status_code == 400 and "?store=" in ambiguous.json()["detail"]
    assert hq.get("/api/v1/sales/READ-1?store=S001").json()["total_cents"] == 100
    manager = client_as("store_manager")  # S001
    assert manager.get("/api/v1/sales/READ-1").json()["store"] == "S001"
    assert manager.get("/api/v1/sales/READ-1?store=S002").status_code == 404


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_stores_posting_the_same_id_at_once_both_post(chain):
    from tideover.loyalty.tests.test_concurrency import at_once

    payloads = [sale(store=code, sale_id="RACE-1", cents=1000) for code in ("S001", "S002")]
    results = at_once(2, lambda i: post_sales([payloads[i]])[0].result)
    assert results == ["posted", "posted"]
    assert Sale.objects.filter(sale_id="RACE-1").count() == 2
