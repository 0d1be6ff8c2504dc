"""Roles without *view subscriber contacts* see the kind of address, never the address: masked
by channel, so a webhook URL with an '@' in it shows only its scheme and host."""

import pytest
from django.test import Client

from tideover.notifications.models import OutboxMessage, Subscriber
from tideover.notifications.views_console import mask

pytestmark = pytest.mark.django_db

HOOK = "https://ops:hunter2@hooks.example.net/services/T000/B000/XyZsecretToken?k=v#f"
SECRETS = ("hunter2", "ops:", "XyZsecretToken", "services", "k=v")


@pytest.fixture
def hook_message():
    subscriber = Subscriber.objects.create(
        channel="webhook", address=HOOK, state="active", secret="s"
    )
    return OutboxMessage.objects.create(
        channel="webhook", recipient=HOOK, subscriber=subscriber, dedupe_key="x:1", state="failed"
    )


def test_a_webhook_url_with_credentials_is_masked_to_scheme_and_host_in_the_console(
    hook_message, client_as
):
    console = client_as("incident_commander")  # may view delivery, not subscriber contacts
    for page in ("/console/notifications/", "/console/notifications/delivery/"):
        html = console.get(page).content.decode()
        assert "https://hooks.example.net" in html, page
        assert not any(secret in html for secret in SECRETS), page
    # A role with contact access sees the address itself.
    assert "XyZsecretToken" in client_as("comms").get("/console/notifications/").content.decode()


def test_a_webhook_url_with_credentials_is_masked_to_scheme_and_host_in_the_api(
    hook_message, api_token
):
    answer = Client().get("/api/v1/notifications/messages", **api_token("subscribers:write"))
    assert answer.status_code == 200
    assert [m["recipient"] for m in answer.json()] == ["https://hooks.example.net"]


def test_each_channel_is_masked_by_its_own_rule():
    assert mask("pat@example.com", "email") == "•••@example.com"
    assert mask("+15125550177", "sms") == "+15•••77"
    assert mask("http://[::1]:8080/x@y/z", "webhook") == "http://[::1]"
    assert mask("slack://T000/B000/XyZ@secret", "chat") == "slack://•••"
    assert mask("not a url @ all", "webhook") == "•••"
