"""The update preview: the incident page's own update form, its states to choose from, text that
wraps on a phone, and a button that posts what was previewed without retyping it."""

import re

import pytest
from django.urls import reverse

from tideover.core.models import ComponentStatus
from tideover.core.tests.browser import PHONE
from tideover.incidents import services
from tideover.incidents.models import IncidentState

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_cards(severities, components):
    return services.declare_incident(
        title="Card terminals slow",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.DEGRADED_PERFORMANCE},
        all_stores=True,
        message="Card payments are slow.",
    )


def test_update_preview_offers_the_states_as_a_choice_and_posts_what_was_previewed(
    client_as, slow_cards
):
    client = client_as("incident_commander")
    url = reverse("notifications:preview", kwargs={"incident_id": slow_cards.pk})
    body = "We found the cause: a card network provider. Use cash if a card is refused."
    page = client.post(url, {"body": body, "state": "identified"}).content.decode()
    states = re.search(r'<select name="state"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert '<option value="identified" selected>Identified</option>' in states
    assert 'value="monitoring"' in states and 'value="resolved"' in states
    post_url = reverse("incidents:post_update", kwargs={"incident_id": slow_cards.pk})
    assert f'action="{post_url}"' in page and "Post this update" in page
    assert f">\n{body}</textarea>" in page  # carried over: nothing to retype
    assert not slow_cards.public_updates.filter(body=body).exists()  # a preview sends nothing
    # Posting is the same form, so the previewed text and state go out as they were.
    posted = client.post(post_url, {"body": body, "state": "identified"})
    assert posted.status_code == 302
    slow_cards.refresh_from_db()
    assert slow_cards.state == IncidentState.IDENTIFIED
    assert slow_cards.public_updates.first().body == body


def test_update_preview_names_what_to_fix_next_to_the_field(client_as, slow_cards):
    url = reverse("notifications:preview", kwargs={"incident_id": slow_cards.pk})
    refused = client_as("comms").post(url, {"body": ""})
    assert refused.status_code == 400 and "This field is required." in refused.text
    assert "Post this update" not in refused.text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_update_preview_wraps_on_a_phone_and_posts_without_retyping(
    live_server, staff, slow_cards, phone_page
):
    from playwright.sync_api import expect

    page = phone_page
    page.goto(f"{live_server.url}/console/incidents/{slow_cards.pk}/")
    page.get_by_label("Username").fill("incident_commander")
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    long_word = "https://status.example.com/incidents/" + "x" * 80
    body = f"Card payments are back in most stores; details at {long_word} as they come."
    page.get_by_label(re.compile(r"^Public update:?$")).fill(body)
    page.get_by_label("Move the incident to").select_option("monitoring")
    page.get_by_role("button", name="Preview on every channel first").click()
    expect(page.get_by_role("heading", name="How it will read")).to_be_visible()
    # Every preview wraps inside the screen, the long address included.
    for box in page.locator("pre.preview").all():
        right = box.evaluate("e => e.getBoundingClientRect().right")
        assert right <= PHONE["width"] and box.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_label("Move the incident to")).to_have_value("monitoring")
    page.get_by_role("button", name="Post this update").click()
    expect(page.get_by_text("Public update posted.")).to_be_visible()
    slow_cards.refresh_from_db()
    assert slow_cards.state == IncidentState.MONITORING
    assert slow_cards.public_updates.first().body == body
