from tideover.loyalty.tests.factories import sale
from tideover.sales.models import SaleConflict
from tideover.sales.services import post_sales


def test_conflicts_page_lists_clashes_and_marks_them_reviewed(client_as, chain):
    first = sale()
    post_sales([first])
    post_sales([{**first, "register": "R7"}])
    manager = client_as("store_manager")
    page = manager.get("/console/sales/conflicts/").content.decode()
    assert first["sale_id"] in page
    conflict = SaleConflict.objects.get()
    manager.post(f"/console/sales/conflicts/{conflict.pk}/review/", {"note": "till clock fixed"})
    conflict.refresh_from_db()
    assert conflict.reviewed_at is not None and conflict.review_note == "till clock fixed"
    page = manager.get("/console/sales/conflicts/").content.decode()
    assert f"<code>{first['sale_id']}</code>" not in page


def test_conflicts_page_needs_the_view_sales_capability(client_as, chain):
    assert client_as("comms").get("/console/sales/conflicts/").status_code == 403


def test_store_managers_see_and_settle_only_their_own_stores_conflicts(client_as, chain):
    mine, theirs = sale(store="S001"), sale(store="S002")
    post_sales([mine, theirs])
    post_sales([{**mine, "register": "R7"}, {**theirs, "register": "R7"}])
    manager = client_as("store_manager")  # of S001
    page = manager.get("/console/sales/conflicts/").content.decode()
    assert mine["sale_id"] in page and theirs["sale_id"] not in page
    listed = manager.get("/api/v1/sales/conflicts").json()
    assert [c["sale_id"] for c in listed] == [mine["sale_id"]]
    other = SaleConflict.objects.get(sale_id=theirs["sale_id"])
    assert manager.post(f"/console/sales/conflicts/{other.pk}/review/").status_code == 403
    assert manager.get(f"/api/v1/sales/{theirs['sale_id']}").status_code == 404
    assert manager.get(f"/api/v1/sales/{mine['sale_id']}").status_code == 200
