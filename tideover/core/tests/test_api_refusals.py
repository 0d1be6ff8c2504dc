"""What a machine hears when the API refuses it: 401 naming why, 403 naming the missing scope
before the body is read, unknown fields by name, oversized bodies as JSON, offline docs."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tideover.core.models import ApiToken
from tideover.core.services import create_api_token

DECLARE = "/api/v1/incidents"
VALID = {"title": "Registers down", "severity": "SEV2", "message": "Looking into it."}


def post(client, path, body, **extra):
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def assert_401(response, word):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert word in response.json()["detail"].lower()


@pytest.mark.django_db
def test_write_without_any_credentials_is_401_with_a_bearer_challenge_not_a_csrf_refusal():
    response = post(Client(enforce_csrf_checks=True), DECLARE, VALID)
    assert_401(response, "token")
    assert "csrf" not in response.content.decode().lower()


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer   ", "Basic dXNlcjpwdw=="])
def test_malformed_authorization_header_is_401_saying_malformed(header):
    response = post(Client(), DECLARE, VALID, HTTP_AUTHORIZATION=header)
    assert_401(response, "malformed")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_unknown_token_is_401_saying_unknown():
    assert_401(post(Client(), DECLARE, VALID, **bearer("tdo_nothere_secret")), "unknown")


@pytest.mark.django_db
def test_revoked_token_is_401_saying_revoked(severities):
    token, secret = create_api_token(name="old", scopes=["incidents:write"])
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert_401(post(Client(), DECLARE, VALID, **bearer(secret)), "revoked")


@pytest.mark.django_db
def test_token_request_is_not_csrf_checked_even_with_a_session_cookie(severities, staff, api_token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["incident_commander"])
    response = post(client, DECLARE, VALID, **api_token("incidents:write"))
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_console_session_write_needs_the_csrf_token(severities, staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["incident_commander"])
    refused = post(client, DECLARE, VALID)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/console/")  # sets the csrftoken cookie, as the console page does
    token = client.cookies["csrftoken"].value
    assert post(client, DECLARE, VALID, HTTP_X_CSRFTOKEN=token).status_code == 201


@pytest.mark.django_db
def test_token_without_the_scope_is_refused_naming_it_before_the_body_is_validated(api_token):
    response = post(Client(), DECLARE, {"nonsense": True}, **api_token("incidents:read"))
    assert response.status_code == 403
    assert "incidents:write" in response.json()["detail"]


@pytest.mark.django_db
def test_staff_without_the_capability_is_refused_before_the_body_is_validated(staff):
    client = Client()
    client.force_login(staff["store_associate"])
    response = post(client, DECLARE, {"nonsense": True})
    assert response.status_code == 403
    assert "Your role does not allow" in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_field_in_a_write_is_refused_by_name(severities, chain, api_token):
    body = {**VALID, "stores": {"store_codes": ["S001"]}}
    response = post(Client(), DECLARE, body, **api_token("incidents:write"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "stores.store_codes" in detail and "unknown field" in detail
    from tideover.incidents.models import Incident

    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_validation_answers_hold_no_python_reprs_or_echoed_input(api_token):
    body = {"title": "", "severity": 5, "message": "x", "started_at": "yesterday"}
    response = post(Client(), DECLARE, body, **api_token("incidents:write"))
    assert response.status_code == 422
    answer = response.json()
    for error in answer["errors"]:
        assert set(error) == {"loc", "msg", "type"}
    assert "Value error," not in answer["detail"] and "Error(" not in answer["detail"]


@pytest.mark.django_db
def test_body_over_the_limit_is_a_json_413_naming_the_limit(settings, api_token):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {**VALID, "message": "x" * 2000}
    response = post(Client(), DECLARE, body, **api_token("incidents:write"))
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "1,000 bytes" in response.json()["detail"]


def _sale(n, store="S001"):
    return {
        "sale_id": f"{store}-R1-{n:08d}",
        "store": store,
        "register": "R1",
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
        "member_id": f"M{n:07d}",
        "lines": [
            {"sku": f"SKU-{n % 97:05d}", "quantity": 2, "unit_price_cents": 1299},
            {"sku": "BAG-PAPER", "quantity": 1, "unit_price_cents": 10},
            {"sku": f"SKU-{n % 89:05d}", "quantity": 1, "unit_price_cents": 4599},
        ],
        "tenders": [{"kind": "card", "amount_cents": 7207}],
        "codes": [],
    }


@pytest.mark.django_db
def test_a_full_batch_of_the_documented_size_is_accepted(settings, chain, api_token):
    sales = [_sale(n) for n in range(settings.SALES_MAX_BATCH)]
    body = json.dumps({"sales": sales})
    response = Client().post(
        "/api/v1/sales:batch", body, content_type="application/json", **api_token("sales:write")
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["posted"] == settings.SALES_MAX_BATCH


@pytest.mark.django_db
def test_a_batch_item_that_is_not_an_object_is_rejected_on_its_own(chain, api_token):
    body = {"sales": [_sale(1), 5, "S001-R1-2", ["nested"]]}
    response = post(Client(), "/api/v1/sales:batch", body, **api_token("sales:write"))
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["posted"] == 1 and answer["rejected"] == 3
    assert [r["result"] for r in answer["results"]] == ["posted", *["rejected"] * 3]


def test_openapi_lists_each_operations_error_answers():
    from tideover.urls import api

    schema = api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "422"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert "413" in codes, (method, path)
            error = operation["responses"]["403"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}


def test_api_docs_load_swagger_ui_from_this_server_not_a_cdn(client):
    page = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui-bundle.js" in page
    assert "cdn" not in page and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-init.js"):
        url = f"/static/ninja/{asset}"
        assert url in page, url
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, url


def test_every_operation_names_who_may_call_it_in_its_auth():
    """The one check of an operation is its ``auth=access(scope=..., capability=...)``, run
    before the body is read; none falls back to the API's default (anyone authenticated), so
    dropping the check inside a view cannot open it."""
    from tideover.core.api_auth import ANY, API_AUTH
    from tideover.urls import api

    unnamed = []
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                auth = operation.auth_param
                named = isinstance(auth, list) and auth is not API_AUTH
                if not named or any(
                    getattr(check, "scope", None) is ANY
                    or getattr(check, "capability", None) is ANY
                    for check in auth
                ):
                    unnamed.append(f"{operation.methods} {prefix}{path}")
    assert not unnamed, f"operations without auth=access(...): {unnamed}"
