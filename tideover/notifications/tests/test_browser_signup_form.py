"""The sign-up form on a phone: below the active incidents, only the chosen channel's field
(without JavaScript), and every error next to its field in words."""

from __future__ import annotations

import re

import pytest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_signup_form_shows_the_chosen_channels_field_and_its_error_on_a_phone(
    live_server, severities, components, phone_page, settings
):
    from playwright.sync_api import expect

    from tideover.core.tests.browser import outside_the_browser_loop
    from tideover.incidents import services as incidents

    page = phone_page
    settings.SITE_URL = live_server.url
    outside_the_browser_loop(
        lambda: incidents.declare_incident(
            title="Card payments failing",
            severity=severities["SEV2"],
            components={components["card-payments"]: "partial_outage"},
            message="Some card payments fail; cash works.",
        )
    )
    page.goto(f"{live_server.url}/")
    html = page.content()
    assert html.index("Active incidents") < html.index("Get updates")
    if page.locator("form.subscribe-form").count() == 0:  # linked, not embedded
        page.get_by_role("link", name=re.compile("Subscribe to updates")).click()
    form = page.locator("form.subscribe-form")
    expect(page.get_by_label("E-mail address")).to_be_visible()
    expect(page.get_by_label("Mobile number")).to_be_hidden()
    expect(page.get_by_label("Webhook URL")).to_be_hidden()

    page.get_by_label("Text message (SMS)").check()
    expect(page.get_by_label("Mobile number")).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_be_hidden()

    page.get_by_role("button", name="Subscribe").click()
    error = form.locator(".field-phone .errorlist")
    expect(error).to_be_visible()
    assert re.search(r"[a-z]{3,} [a-z]{3,}", error.inner_text().lower()), error.inner_text()
    expect(page.get_by_label("E-mail address")).to_be_hidden()
    expect(page.get_by_label("Mobile number")).to_have_attribute("aria-invalid", "true")
    wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not wide, "the form makes the page scroll sideways on a phone"
