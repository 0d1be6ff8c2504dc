"""A loyalty id is the same id in any case: members are stored upper-case, tills send it as
typed (or as the card's barcode reads)."""

import json

from django.test import Client

from tideover.loyalty.models import Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale
from tideover.sales.schemas import SaleIn, content_hash
from tideover.sales.services import post_sales


def test_a_sale_with_the_member_id_in_lower_case_earns_points(member):
    [result] = post_sales([sale(member=" m0000042 ", cents=2500)])
    assert result.result == "posted"
    assert result.points == 250 and result.balance == 250, result.notes
    assert Member.objects.get(pk=member.pk).balance == 250
    assert Sale.objects.get(sale_id=result.sale_id).member_id == "M0000042"


def test_the_sales_api_upper_cases_the_member_id(member, api_token):
    payload = sale(member="m0000042", cents=2500)
    response = Client().post(
        "/api/v1/sales",
        json.dumps(payload),
        content_type="application/json",
        **api_token("sales:write"),
    )
    assert response.status_code == 200, response.content
    assert response.json()["points"] == 250
    assert Sale.objects.get(sale_id=payload["sale_id"]).member_id == "M0000042"


def test_a_resend_with_the_member_id_in_another_case_is_a_duplicate(member):
    first = sale(member="M0000042", cents=2500)
    post_sales([first])
    [again] = post_sales([{**first, "member_id": "m0000042"}])
    assert again.result == "duplicate"
    assert Member.objects.get(pk=member.pk).balance == 250


def test_a_resend_of_a_sale_posted_before_ids_were_upper_cased_is_a_duplicate(member):
    typed = sale(member="m0000042", cents=2500)
    post_sales([typed])
    # What that sale's fingerprint was when the id was kept as sent.
    as_sent = SaleIn.model_validate(typed).model_copy(update={"member_id": "m0000042"})
    Sale.objects.filter(sale_id=typed["sale_id"]).update(content_hash=content_hash(as_sent))
    [again] = post_sales([typed])
    assert again.result == "duplicate"
