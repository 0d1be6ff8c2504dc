"""A shopper subscribes by e-mail on the status page in a real Chromium, confirms from the
e-mail the SMTP server received, and gets the next update."""

from __future__ import annotations

import re

import pytest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_shopper_subscribes_on_the_status_page_confirms_and_gets_the_next_update(
    live_server, severities, components, smtp, phone_page, settings
):
    from playwright.sync_api import expect

    from tideover.core.tests.browser import outside_the_browser_loop
    from tideover.incidents import services as incidents
    from tideover.notifications.outbox import drain

    page = phone_page
    settings.SITE_URL = live_server.url
    incident = outside_the_browser_loop(
        lambda: incidents.declare_incident(
            title="Card payments failing",
            severity=severities["SEV2"],
            components={components["card-payments"]: "partial_outage"},
            message="Some card payments fail; cash works.",
        )
    )
    page.goto(f"{live_server.url}/")
    form = page.locator("form.subscribe-form")
    if form.count() == 0:  # the status page links to the form instead of embedding it
        page.get_by_role("link", name=re.compile("Subscribe to updates")).click()
    page.get_by_label("E-mail address").fill("shopper@example.com")
    page.get_by_role("checkbox", name="Card payments").check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    assert outside_the_browser_loop(drain) == {"sent": 1}
    [confirmation] = smtp.messages
    assert confirmation["To"] == "shopper@example.com"
    link = re.search(r"(http://\S+/confirm/\S+/)", confirmation.get_body(("plain",)).get_content())[
        1
    ]
    page.goto(link)
    page.get_by_role("button", name="Yes, send me status updates").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()

    outside_the_browser_loop(
        lambda: incidents.post_public_update(incident, "A fix is rolling out to every store.")
    )
    assert outside_the_browser_loop(drain) == {"sent": 1}
    update = smtp.messages[-1]
    assert update["To"] == "shopper@example.com"
    assert "A fix is rolling out to every store." in update.get_body(("plain",)).get_content()
    unsubscribe = re.search(r"<(http://\S+)>", update["List-Unsubscribe"])[1]
    page.goto(unsubscribe)
    page.get_by_role("button", name="Stop sending me status updates").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
