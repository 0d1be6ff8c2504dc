"""The HTML status page: readable without JavaScript, on a phone, with assistive technology."""

import re

import pytest

from tideover.incidents import services
from tideover.statuspage import render


@pytest.mark.django_db
def test_page_shows_overall_status_components_and_active_incident_updates_newest_first(
    client, outage, maintenance
):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Major Service Outage" in html
    assert "Registers cannot reach HQ" in html
    newest = html.index("We found the cause")
    oldest = html.index("We are investigating a problem")
    assert newest < oldest
    assert re.search(r'<time datetime="[^"]+">[A-Z][a-z]{2} \d+, \d{4} \d\d:\d\d UTC</time>', html)
    assert "Loyalty database upgrade" in html and "Scheduled maintenance" in html
    assert "In-store checkout" in html and "Major outage" in html


@pytest.mark.django_db
def test_page_works_without_javascript_and_loads_nothing_external(client, outage):
    html = client.get("/").content.decode()
    assert "<script" not in html
    assert not re.search(r'(src|href)="https?://', html.split("<footer")[0])
    assert "<style>" in html  # self-contained CSS


@pytest.mark.django_db
def test_page_is_accessible_landmarks_headings_language(client, outage):
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert '<meta name="viewport"' in html
    for landmark in ('<header class="site" role="banner">', '<main id="main"', "<footer", "<nav"):
        assert landmark in html
    assert "<h1" in html and "<h2" in html
    assert 'role="status"' in html  # the overall verdict is announced
    # colors are never the only signal: every bar has its text as a tooltip, and screen
    # readers get the same facts as one sentence per component instead of 90 list items
    labels = re.findall(r'<li class="[odpmun]" title="([^"]+)"></li>', html)
    assert len(labels) == 90 * 5
    assert all(re.match(r"[A-Z][a-z]{2} \d+: ", label) for label in labels)
    assert sum("worst major outage" in label for label in labels) == 1  # today, checkout
    assert re.search(r'<ol class="bars" aria-hidden="true">', html)
    assert re.search(
        r'<p class="visually-hidden">In-store checkout, last 90 days: [\d.]+% uptime\. '
        r"[A-Z][a-z]{2} \d+: worst major outage; \d+ min major outage\.</p>",
        html,
    )
    assert "Card payments, last 90 days: 100.00% uptime. No incidents." in html


@pytest.mark.django_db
def test_incident_page_lists_every_update_with_time(client, outage):
    html = client.get(f"/incidents/{outage.pk}").content.decode()
    assert "<h1>Registers cannot reach HQ</h1>" in html
    assert html.count('<li id="update-') == 2
    assert "Impact: Critical" in html


@pytest.mark.django_db
def test_history_lists_resolved_incidents_by_day(client, outage):
    services.resolve_incident(outage, "All registers are back online.")
    html = client.get("/history").content.decode()
    assert "Registers cannot reach HQ" in html
    assert "All registers are back online." in html
    assert client.get("/").content.decode().count("Recently resolved") == 1


@pytest.mark.django_db
def test_unknown_incident_is_404_and_writes_are_refused(client, components):
    assert client.get("/incidents/999999").status_code == 404
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_subscribe_block_links_to_the_form_when_the_cached_page_cannot_carry_csrf(
    client, components, monkeypatch
):
    html = render.index_page(render.Links.served()).decode()
    assert '<h2 id="subscribe-title">Get updates</h2>' in html
    exported = render.index_page(render.Links(root="", static=True)).decode()
    assert 'href="http://127.0.0.1:8000/subscribe/"' in exported  # the export lives elsewhere
    monkeypatch.setattr(render, "SUBSCRIBE_URL_NAME", "notifications:no-such-page")
    assert "Get updates" not in render.index_page(render.Links.served()).decode()


@pytest.mark.django_db
def test_subscribe_form_is_embedded_when_its_view_takes_posts_without_csrf(
    client, components, monkeypatch
):
    from django.urls import resolve, reverse

    view = resolve(reverse(render.SUBSCRIBE_URL_NAME)).func
    monkeypatch.setattr(view, "csrf_exempt", True, raising=False)
    html = render.index_page(render.Links.served()).decode()
    assert '<form method="post"' in html


def test_a_component_kept_off_the_status_page_is_named_nowhere_the_public_reads(
    client, severities, components
):
    from tideover.core.models import Component, ComponentStatus
    from tideover.notifications.models import OutboxMessage, Subscriber
    from tideover.notifications.rendering import render as render_message

    Subscriber.objects.create(channel="email", address="a@example.com", state="active")
    Subscriber.objects.create(
        channel="webhook", address="https://hooks.example.com/s", state="active", secret="s"
    )

    back_office = Component.objects.create(
        name="Back-office ETL", slug="etl", position=9, is_public=False
    )
    incident = services.declare_incident(
        title="Checkout trouble",
        severity=severities["SEV2"],
        components={
            components["online-checkout"]: ComponentStatus.PARTIAL_OUTAGE,
            back_office: ComponentStatus.MAJOR_OUTAGE,
        },
        message="We are looking into it.",
    )
    for path in (
        f"/incidents/{incident.pk}",
        "/",
        "/api/v2/incidents.json",
        "/api/v2/summary.json",
        "/api/v2/incidents/unresolved.json",
        "/feed.atom",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert b"Back-office ETL" not in page.content, path
    for message in OutboxMessage.objects.filter(subscriber__isnull=False):
        rendered = render_message(message)
        assert "Back-office ETL" not in rendered.text + str(rendered.payload)
    assert OutboxMessage.objects.filter(subscriber__isnull=False).count() == 2
