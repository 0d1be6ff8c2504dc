"""A body that is not JSON text the product can store is refused whole with a 400 that says
where it went wrong, before any handler runs: never a 500 from deep inside."""

import pytest
from django.test import Client

from tideover.incidents.models import Incident


def post_raw(body: bytes, headers):
    return Client().post("/api/v1/incidents", body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_lone_surrogate_escape_is_refused_with_a_400_that_says_why(api_token, severities):
    headers = api_token("incidents:write")
    response = post_raw(b'{"title": "Tills", "severity": "\\ud800"}', headers)
    assert response.status_code == 400, response.content
    assert "surrogate pair" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_a_surrogate_pair_is_text_and_is_kept(api_token, severities):
    headers = api_token("incidents:write")
    response = post_raw(
        b'{"title": "Tills \\ud83d\\ude00", "severity": "SEV2", "message": "Looking."}', headers
    )
    assert response.status_code == 201, response.content
    assert Incident.objects.get().title == "Tills \N{GRINNING FACE}"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b'{"title": ', b"\xff\xfe{}", b'{"title": "x"} trailing'])
def test_a_body_that_is_not_json_says_where_it_breaks(api_token, body):
    response = post_raw(body, api_token("incidents:write"))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("The body is not JSON text") and "line 1 column" in detail
