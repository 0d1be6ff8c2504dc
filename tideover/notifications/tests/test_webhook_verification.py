"""A webhook subscription turns on only after its endpoint answers a signed challenge."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from tideover.notifications.models import OutboxMessage, Subscriber
from tideover.notifications.outbox import drain


def _sign_up(url):
    response = Client().post("/subscribe/", {"channel": "webhook", "url": url})
    secret = re.search(rb'id="webhook-secret">([0-9a-f]+)<', response.content)[1].decode()
    verify = re.search(rb'action="(/subscribe/webhook/[^"]+/verify/)"', response.content)[1]
    return secret, verify.decode()


def test_a_webhook_gets_nothing_until_its_endpoint_answers_the_signed_challenge(
    db, http_sink, severities, components
):
    from tideover.incidents import services as incidents

    secret, verify = _sign_up(f"{http_sink.url}/hook/shop")
    assert Subscriber.objects.get().state == "pending"
    incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
        message="Registers are down.",
    )
    assert not OutboxMessage.objects.filter(channel="webhook").exists()
    # The endpoint does not know the secret yet: the signature fails, nothing turns on.
    refused = Client().post(verify, REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 400 and b"answered HTTP 401" in refused.content
    assert b"4 tries left" in refused.content
    assert Subscriber.objects.get().state == "pending"
    http_sink.secrets["/hook/shop"] = secret
    answer = Client().post(verify, REMOTE_ADDR="203.0.113.5")
    assert answer.status_code == 200 and b"You are subscribed" in answer.content
    assert http_sink.verifications == ["/hook/shop"]
    assert Subscriber.objects.get().state == "active"
    incidents.post_public_update(incidents_open(), "Still working on it.")
    drain()
    assert [w["json"]["update"] for w in http_sink.webhooks] == ["Still working on it."]


def incidents_open():
    from tideover.incidents.models import Incident

    return Incident.objects.get()


def test_an_endpoint_that_does_not_answer_the_proof_stays_pending_and_runs_out_of_tries(
    db, http_sink
):
    secret, verify = _sign_up(f"{http_sink.url}/chat/not-a-webhook")  # answers {} to anything
    for left in (4, 3, 2, 1):
        answer = Client().post(verify)
        assert answer.status_code == 400
        assert b"did not contain the proof" in answer.content
        assert f"{left} tries left".encode() in answer.content
    last = Client().post(verify)
    assert last.status_code == 400 and b"subscribe again" in last.content
    assert Client().post(verify).status_code == 409
    subscriber = Subscriber.objects.get()
    assert subscriber.state == "pending" and subscriber.confirm_attempts == 5


def test_signing_up_a_pending_webhook_again_neither_replaces_nor_shows_its_secret(db, http_sink):
    secret, _ = _sign_up(f"{http_sink.url}/hook/p")
    again = Client().post("/subscribe/", {"channel": "webhook", "url": f"{http_sink.url}/hook/p"})
    assert again.status_code == 200 and secret.encode() not in again.content
    assert Subscriber.objects.get().secret == secret


def test_api_callers_verify_through_the_api(db, http_sink, api_token):
    headers = api_token("subscribers:write")
    created = Client().post(
        "/api/v1/notifications/subscribers",
        {"channel": "webhook", "address": f"{http_sink.url}/hook/api"},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201 and created.json()["state"] == "pending"
    http_sink.secrets["/hook/api"] = created.json()["secret"]
    verified = Client().post(
        f"/api/v1/notifications/subscribers/{created.json()['id']}/verify", **headers
    )
    assert verified.status_code == 200 and verified.json()["state"] == "active"
    assert verified.json()["secret"] is None


def test_a_staff_webhook_channel_is_sent_nothing_until_it_answers_its_challenge(
    db, http_sink, client_as, severities, components
):
    from tideover.incidents import services as incidents
    from tideover.notifications.models import ChannelEndpoint

    console = client_as("comms")
    added = console.post(
        "/console/notifications/channels/",
        {"name": "ops hook", "channel": "webhook", "target": f"{http_sink.url}/hook/ops"},
    )
    secret = re.search(rb'id="webhook-secret">([^<]+)<', added.content)[1].decode()
    endpoint = ChannelEndpoint.objects.get()
    assert endpoint.secret == secret and endpoint.verified_at is None
    assert b"not verified: sent nothing" in console.get("/console/notifications/channels/").content

    def declare(title):
        incidents.declare_incident(
            title=title,
            severity=severities["SEV1"],
            components={components["in-store-checkout"]: "major_outage"},
            message="Registers are down.",
        )

    declare("Checkout down")
    assert not OutboxMessage.objects.filter(endpoint=endpoint).exists()
    tested = console.post(f"/console/notifications/channels/{endpoint.pk}/test/", follow=True)
    assert b"Verify this webhook first" in tested.content
    assert not OutboxMessage.objects.filter(endpoint=endpoint).exists()
    # The endpoint does not know the secret yet: its answer fails the signature check.
    verify = f"/console/notifications/channels/{endpoint.pk}/verify/"
    refused = console.post(verify, follow=True)
    assert b"did not pass verification: it answered HTTP 401" in refused.content
    http_sink.secrets["/hook/ops"] = secret
    console.post(verify)
    endpoint.refresh_from_db()
    assert endpoint.verified_at is not None and http_sink.verifications == ["/hook/ops"]
    declare("Payments down")
    assert OutboxMessage.objects.filter(endpoint=endpoint).count() == 1
    assert drain() == {"sent": 1}
    assert [w["path"] for w in http_sink.webhooks] == ["/hook/ops"]


def test_roles_without_manage_channels_cannot_verify_a_staff_webhook(db, client_as):
    from tideover.notifications.models import ChannelEndpoint

    endpoint = ChannelEndpoint.objects.create(
        name="hook", channel="webhook", target="https://hooks.example.com/x"
    )
    for role in ("store_manager", "customer_service", "incident_commander"):
        answer = client_as(role).post(f"/console/notifications/channels/{endpoint.pk}/verify/")
        assert answer.status_code == 403, role


class _Echo(BaseHTTPRequestHandler):
    """A URL that never saw the secret and answers with what it received, headers and all (a
    request bin, many JSON APIs)."""

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = json.dumps({"headers": dict(self.headers), "received": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def echo_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/anything"
    server.shutdown()
    server.server_close()


def test_an_endpoint_that_echoes_its_request_without_the_secret_is_not_verified(
    db, echo_url, client_as
):
    _, verify = _sign_up(echo_url)
    answer = Client().post(verify)
    assert answer.status_code == 400 and b"did not contain the proof" in answer.content
    assert Subscriber.objects.get().state == "pending"
    # A staff webhook channel neither.
    from tideover.notifications.models import ChannelEndpoint

    endpoint = ChannelEndpoint.objects.create(
        name="echo", channel="webhook", target=echo_url, secret="s" * 32
    )
    page = client_as("comms").post(
        f"/console/notifications/channels/{endpoint.pk}/verify/", follow=True
    )
    assert b"did not contain the proof" in page.content
    endpoint.refresh_from_db()
    assert endpoint.verified_at is None


def test_the_proof_is_the_hmac_of_the_challenge_under_the_secret(db, http_sink):
    """What docs/notifications.md tells a receiver to answer, written out by hand."""
    import hashlib
    import hmac

    from tideover.core.signing import challenge_proof

    expected = hmac.new(b"k3y", b"abc", hashlib.sha256).hexdigest()
    assert challenge_proof("k3y", "abc") == expected


def test_webhooks_verified_before_the_proof_was_asked_for_stay_active(db, make_subscriber):
    subscriber = make_subscriber(channel="webhook", address="https://h.example.com/", secret="s")
    page = Client().post(f"/subscribe/webhook/{subscriber.token}/verify/")
    assert page.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == "active"
