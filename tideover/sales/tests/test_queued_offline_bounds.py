"""A store agent's queued_offline list is bounded like the batch's sales (SALES_MAX_BATCH)."""

import json

from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale


def test_a_queued_offline_list_longer_than_a_batch_may_be_is_refused(
    client, api_token, chain, settings
):
    settings.SALES_MAX_BATCH = 5
    headers = api_token("sales:write")
    one = sale()
    body = {"sales": [one], "queued_offline": [one["sale_id"]] * 6}
    response = client.post(
        "/api/v1/sales:batch", json.dumps(body), content_type="application/json", **headers
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "queued_offline"
    assert "at most 5" in response.json()["detail"]
    assert not Sale.objects.exists()
    body["queued_offline"] = [one["sale_id"]] * 5  # as many as a batch may carry: fine
    response = client.post(
        "/api/v1/sales:batch", json.dumps(body), content_type="application/json", **headers
    )
    assert response.json()["posted"] == 1
