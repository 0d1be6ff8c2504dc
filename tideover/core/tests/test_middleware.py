import json

from django.test import Client


def test_nul_in_an_api_body_is_a_400_that_says_so(db, api_token, components):
    headers = api_token("incidents:write")
    body = json.dumps({"status": "degraded_performance", "note": "a\u0000b"})
    response = Client().post(
        "/api/v1/components/card-payments/status", body, content_type="application/json", **headers
    )
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


def test_nul_in_a_query_string_or_form_is_refused(db):
    assert Client().get("/api/v1/incidents?kind=%00").status_code == 400
    assert (
        Client().post("/accounts/login/", {"username": "a\x00", "password": "x"}).status_code == 400
    )


def test_ordinary_requests_pass(db):
    assert Client().get("/healthz").status_code == 200


def test_the_load_balancers_probe_by_address_over_plain_http_gets_ok(settings):
    """The deployment of docs/deploy.md: host names only, HTTPS redirect behind a proxy."""
    settings.ALLOWED_HOSTS = ["status.example.com", "console.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    answer = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz")
    assert answer.status_code == 200 and answer.content == b"ok"
    # Anything else from that address is still refused.
    assert Client(HTTP_HOST="10.1.2.3:8000").get("/").status_code == 400


def test_a_photo_may_hold_nul_bytes_but_a_text_field_may_not(client, db):
    # db: a log-in POST that passes the NUL check reaches the log-in throttle, which reads
    # the attempts recorded so far.
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("p.jpg", b"\xff\xd8\xff\x00\x00binary", content_type="image/jpeg")
    passed = client.post("/accounts/login/", {"username": "x", "photo": photo})
    assert passed.status_code != 400 or b"NUL" not in passed.content
    refused = client.post("/accounts/login/", {"username": "x\x00y"})
    assert refused.status_code == 400 and b"NUL" in refused.content
