"""Console pages and the API: counts, the delivery log, retry, staff channels, preview."""

import pytest

from tideover.incidents import services as incidents
from tideover.notifications.models import ChannelEndpoint, OutboxMessage
from tideover.notifications.outbox import UNCERTAIN_ERROR, claim_batch, deliver_claimed


@pytest.fixture
def incident(severities, components):
    return incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )


def test_subscriber_counts_show_contacts_only_to_roles_that_need_them(
    client_as, make_subscriber, components
):
    make_subscriber(address="pat@example.com", components=[components["loyalty"]])
    commander = client_as("incident_commander").get("/console/notifications/")
    assert commander.status_code == 200
    assert b"pat@example.com" not in commander.content and "•••@example.com" in commander.text
    comms = client_as("comms").get("/console/notifications/")
    assert b"pat@example.com" in comms.content
    assert client_as("store_associate").get("/console/notifications/").status_code == 403


def test_failed_message_shows_its_error_and_can_be_retried(client_as, incident, make_subscriber):
    subscriber = make_subscriber()
    message = OutboxMessage.objects.create(
        channel="email",
        recipient=subscriber.address,
        subscriber=subscriber,
        incident_id=incident.pk,
        state="failed",
        last_error=UNCERTAIN_ERROR,
        dedupe_key="f1",
    )
    page = client_as("comms").get(f"/console/notifications/delivery/?incident={incident.pk}")
    assert UNCERTAIN_ERROR[:40] in page.text and f"/delivery/{message.pk}/retry/" in page.text
    commander = client_as("incident_commander")  # sees the log, may not retry
    assert (
        f"/delivery/{message.pk}/retry/"
        not in commander.get("/console/notifications/delivery/").text
    )
    assert commander.post(f"/console/notifications/delivery/{message.pk}/retry/").status_code == 403
    client_as("comms").post(f"/console/notifications/delivery/{message.pk}/retry/")
    message.refresh_from_db()
    assert message.state == "queued"


def test_a_sent_message_is_never_retried(client_as, db):
    message = OutboxMessage.objects.create(
        channel="email", recipient="a@example.com", state="sent", dedupe_key="s1"
    )
    response = client_as("comms").post(
        f"/console/notifications/delivery/{message.pk}/retry/", follow=True
    )
    assert "already sent" in response.text
    message.refresh_from_db()
    assert message.state == "sent"


def test_staff_channel_can_be_added_and_tested(client_as, http_sink):
    client = client_as("comms")
    response = client.post(
        "/console/notifications/channels/",
        {
            "name": "#store-ops",
            "channel": "chat",
            "target": f"json://127.0.0.1:{http_sink.port}/chat",
        },
    )
    assert response.status_code == 302
    endpoint = ChannelEndpoint.objects.get()
    bad = client.post(
        "/console/notifications/channels/", {"name": "x", "channel": "chat", "target": "nonsense"}
    )
    assert bad.status_code == 400 and "apprise URL" in bad.text
    client.post(f"/console/notifications/channels/{endpoint.pk}/test/")
    from tideover.notifications.outbox import drain

    assert drain() == {"sent": 1}
    assert "test of the staff channel" in http_sink.chat[0]["message"]


def test_preview_shows_sms_length_and_segments(client_as, incident):
    page = client_as("comms").post(
        f"/console/notifications/preview/{incident.pk}/", {"body": "We are on it. " * 20}
    )
    assert page.status_code == 200 and "segments" in page.text and "GSM-7" in page.text


def test_sms_segments_switch_to_ucs2_on_a_curly_quote():
    from tideover.notifications.channels.sms.text import sms_segments

    assert sms_segments("a" * 160) == {"encoding": "GSM-7", "length": 160, "segments": 1}
    assert sms_segments("a" * 161)["segments"] == 2
    assert sms_segments("we’re fixing it")["encoding"] == "UCS-2"
    assert sms_segments("x" * 71 + "’")["segments"] == 2


def test_api_subscribes_lists_and_previews(client_as, api_token, incident, components):
    headers = api_token("subscribers:write")
    from django.test import Client

    client = Client()
    created = client.post(
        "/api/v1/notifications/subscribers",
        {"channel": "webhook", "address": "https://hooks.example.com/a", "components": ["loyalty"]},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201 and created.json()["secret"]
    missing = client.post(
        "/api/v1/notifications/subscribers",
        {"channel": "email", "address": "a@example.com", "components": ["nope"]},
        content_type="application/json",
        **headers,
    )
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    counts = client.get("/api/v1/notifications/subscribers/counts", **headers).json()
    assert counts == {"webhook": {"pending": 1}}  # until its endpoint is verified
    preview = client_as("comms").post(
        "/api/v1/notifications/preview",
        {"incident_id": incident.pk, "body": "Fixed soon."},
        content_type="application/json",
    )
    assert preview.json()["sms"]["segments"] == 1
    log = client.get("/api/v1/notifications/messages", **headers).json()
    assert all("@" not in row["recipient"] or "•••" in row["recipient"] for row in log)


def test_delivery_log_survives_a_bad_filter_and_links_to_the_preview(client_as, incident):
    assert (
        client_as("comms").get("/console/notifications/delivery/?incident=abc").status_code == 200
    )
    page = client_as("comms").get(f"/console/notifications/delivery/?incident={incident.pk}")
    assert f"/console/notifications/preview/{incident.pk}/" in page.text


@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/x", "/\\evil.x"])
def test_retry_never_redirects_off_the_site(client_as, db, target):
    message = OutboxMessage.objects.create(
        channel="email", recipient="a@example.com", state="failed", dedupe_key="r1"
    )
    url = f"/console/notifications/delivery/{message.pk}/retry/"
    response = client_as("comms").post(url, {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/console/notifications/delivery/"


def test_retry_goes_back_to_the_filtered_log_it_came_from(client_as, db):
    message = OutboxMessage.objects.create(
        channel="email", recipient="a@example.com", state="failed", dedupe_key="r2"
    )
    back = "/console/notifications/delivery/?state=failed"
    response = client_as("comms").post(
        f"/console/notifications/delivery/{message.pk}/retry/", {"next": back}
    )
    assert response["Location"] == back


@pytest.mark.parametrize("value", ["99999999999999999999999", "\u00b2", "9" * 5000, "12x"])
def test_a_delivery_log_filter_no_incident_could_have_is_ignored_not_a_500(client_as, value):
    page = client_as("comms").get("/console/notifications/delivery/", {"incident": value})
    assert page.status_code == 200


def test_the_delivery_log_counts_what_workers_hold_in_flight(client_as, incident, make_subscriber):
    for i in range(3):
        make_subscriber(address=f"flight{i}@example.com")
    incidents.post_public_update(incident, "Card payments fail; cash works.")
    assert "in flight" not in client_as("comms").get("/console/notifications/delivery/").text
    token, ids = claim_batch(2)
    assert len(ids) == 2
    page = client_as("comms").get("/console/notifications/delivery/")
    assert "in flight: 2" in page.text
    assert deliver_claimed(token, ids)
    assert "in flight" not in client_as("comms").get("/console/notifications/delivery/").text
