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
