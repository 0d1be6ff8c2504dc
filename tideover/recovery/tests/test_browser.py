"""In real Chromium on a phone-sized screen: an associate signs shoppers up one after the
other, and a shopper signs up from the store's QR code (bad input and an expired code too)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.tests.browser import PHONE, outside_the_browser_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _affected():
    from tideover.recovery.models import AffectedCustomer

    return list(
        AffectedCustomer.objects.order_by("pk").values_list(
            "phone_e164", "email", "consent_marketing", "store__code"
        )
    )


def test_an_associate_signs_up_shoppers_in_seconds_on_a_phone(
    incident, staff, live_server, phone_page
):
    from playwright.sync_api import expect

    page = phone_page
    page.goto(f"{live_server.url}/recover/store/S001/capture/")
    page.get_by_label("Username").fill("store_associate")
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Sign up affected shoppers")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # A malformed phone and a missing consent are refused with what to fix; nothing is saved.
    page.get_by_label("Mobile number").fill("555-12")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Sign up").click()
    expect(
        page.get_by_text("is not a phone number").or_(page.get_by_text("not a valid phone"))
    ).to_be_visible()
    page.get_by_label("Mobile number").fill("+1 512 555 0111")
    page.get_by_role("checkbox").uncheck()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Tick the consent box")).to_be_visible()
    assert outside_the_browser_loop(_affected) == []

    for i, (phone, email) in enumerate([("512 555 0112", ""), ("", "sam@example.com")]):
        started = time.monotonic()
        page.get_by_label("Name").fill(f"Shopper {i}")
        if phone:
            page.get_by_label("Mobile number").fill(phone)
        if email:
            page.get_by_label("E-mail", exact=True).fill(email)
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Sign up").click()
        expect(page.get_by_text("Signed up. Next shopper?")).to_be_visible()
        assert time.monotonic() - started < 10  # the whole sign-up, form to confirmation
        expect(page.get_by_label("Mobile number")).to_have_value("")  # ready for the next
    assert outside_the_browser_loop(_affected) == [
        ("+15125550112", "", True, "S001"),
        ("", "sam@example.com", True, "S001"),
    ]
    # Another store's form does not exist for this associate.
    response = page.goto(f"{live_server.url}/recover/store/S003/capture/")
    assert response.status == 404


def test_a_shopper_signs_up_from_the_qr_code_and_an_expired_code_says_so(
    incident, chain, live_server, phone_page, settings
):
    from playwright.sync_api import expect

    from tideover.recovery import qr

    settings.SITE_URL = live_server.url
    link = qr.sign_up_url(incident, chain["stores"]["S002"])
    page = phone_page
    page.goto(link)
    expect(page.get_by_role("heading", name="Sorry for the trouble today")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_label("E-mail", exact=True).fill("not-an-address")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Send me the offer").click()
    expect(page.get_by_text("is not an e-mail address")).to_be_visible()
    page.get_by_label("E-mail", exact=True).fill("")
    page.get_by_label("Mobile number").fill("+1 512 555 0113")
    page.get_by_role("checkbox").uncheck()
    page.get_by_role("button", name="Send me the offer").click()
    expect(page.get_by_text("Tick the consent box")).to_be_visible()
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Send me the offer").click()
    expect(page.get_by_role("heading", name="Thank you, you are signed up")).to_be_visible()
    assert outside_the_browser_loop(_affected) == [("+15125550113", "", True, "S002")]

    # A forged link, and the same link once the recovery window has closed.
    response = page.goto(link[:-3] + "xyz/")
    assert response.status == 404
    outside_the_browser_loop(
        lambda: (
            type(incident)
            .objects.filter(pk=incident.pk)
            .update(resolved_at=timezone.now() - timedelta(days=30))
        )
    )
    response = page.goto(link)
    assert response.status == 410
    expect(page.get_by_text("Sign-up for this incident closed")).to_be_visible()
