"""The console in a real Chromium on a phone-sized screen: a commander logs in, declares a SEV1,
posts an update, and a customer sees both on the public status page and in the Atom feed."""

from __future__ import annotations

import os
import re

import feedparser
import pytest

from tideover.core.tests.browser import PHONE


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_commander_declares_sev1_and_customers_see_it(
    live_server, severities, components, staff, phone_page
):
    from playwright.sync_api import expect

    page = phone_page
    page.goto(f"{live_server.url}/console/")
    assert "/accounts/login/" in page.url  # anonymous visitors are sent to log in
    page.get_by_label("Username").fill("incident_commander")
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="Declare an incident").click()
    page.get_by_label("Title").fill("Registers cannot take payments")
    page.get_by_label("Severity").select_option(str(severities["SEV1"].pk))
    page.get_by_label("In-store checkout").select_option("major_outage")
    page.get_by_label("All stores").check()
    page.get_by_label("First public update").fill(
        "Registers in our stores cannot take payments. Stores stay open and take cash."
    )
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_text("Declared SEV1: Registers cannot take payments").first).to_be_visible()

    page.get_by_label(re.compile(r"^Public update:?$")).fill(
        "We found the cause: the card network is down. Next update in 15 minutes."
    )
    page.get_by_label("Move the incident to").select_option("identified")
    page.get_by_role("button", name="Post public update").click()
    expect(page.get_by_text("Public update posted.")).to_be_visible()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("We found the cause: the card network is down.")
    expect(timeline).to_contain_text("by incident_commander")
    if os.environ.get("CONSOLE_SCREENSHOT"):  # a picture for a person to look at
        page.screenshot(path=os.environ["CONSOLE_SCREENSHOT"], full_page=True)
    # Usable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The public status page, as a customer (no login) would open it.
    customer = page.context.browser.new_page(viewport=PHONE)
    customer.goto(f"{live_server.url}/")
    expect(customer.get_by_text("Registers cannot take payments").first).to_be_visible()
    expect(customer.get_by_text("the card network is down").first).to_be_visible()

    feed = feedparser.parse(customer.request.get(f"{live_server.url}/feed.atom").body())
    assert not feed.bozo, feed.bozo_exception
    summaries = [entry.summary for entry in feed.entries]
    assert any("the card network is down" in text for text in summaries)
    assert any("Stores stay open and take cash" in text for text in summaries)
    assert feed.entries[0].title == "Registers cannot take payments — Identified"
