"""The store view in real Chromium on a phone-sized screen with JavaScript switched off: an
associate opens the store page, ticks steps, reports a problem and later sees HQ's answer;
the commander sees the store's progress."""

from __future__ import annotations

import pytest

from tideover.core.tests.browser import PHONE, outside_the_browser_loop, phone_browser


def _log_in(page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_associate_works_the_plan_and_hears_back_with_javascript_off(
    live_server, severities, components, staff, monkeypatch
):
    from playwright.sync_api import expect

    from tideover.core.models import ComponentStatus, Region
    from tideover.frontline import services as frontline
    from tideover.frontline.models import Report
    from tideover.incidents import services as incidents
    from tideover.runbooks.models import Checklist

    incident = incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[Region.objects.get(slug="north")],
        message="Our stores are open and registers keep selling.",
    )
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with phone_browser(java_script_enabled=False) as page:
        page.goto(f"{live_server.url}/store/S001/")
        assert "/accounts/login/" in page.url
        _log_in(page, "store_associate")
        expect(page.get_by_role("heading", name="Registers cannot reach HQ")).to_be_visible()
        expect(page.get_by_text("Our stores are open and registers keep selling.")).to_be_visible()
        expect(
            page.get_by_text("Your points and e-receipt will arrive later today")
        ).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.get_by_role("button", name="We have the plan").click()
        expect(page.get_by_text("HQ can see your store has the plan")).to_be_visible()
        first = page.get_by_role("button", name="Keep ringing sales", exact=False)
        expect(first).to_have_attribute("aria-pressed", "false")
        first.click()
        expect(
            page.get_by_role("button", name="Keep ringing sales", exact=False)
        ).to_have_attribute("aria-pressed", "true")
        page.get_by_role("button", name="Take cash and cards as normal", exact=False).click()

        page.get_by_role("link", name="Report a problem").click()
        page.get_by_label("Registers / tills").check()
        page.get_by_label("What is happening?").fill("Register 3 froze on the payment screen")
        page.get_by_role("button", name="Send to HQ").click()
        expect(page.get_by_text("Sent to HQ.")).to_be_visible()
        expect(page.locator("#said")).to_contain_text("HQ has it; no answer yet.")

        def hq_answers():
            report = Report.objects.get()
            frontline.answer(report, "IT restarted register 3 remotely; it is selling again.")
            done = Checklist.objects.get(incident=incident, store__code="S001")
            return done.steps.filter(done_at__isnull=False).count()

        assert outside_the_browser_loop(hq_answers) == 2
        page.reload()
        expect(page.locator("#said")).to_contain_text("We did: IT restarted register 3 remotely")

        commander = page.context.browser.new_context(
            viewport=PHONE, is_mobile=True, java_script_enabled=False
        ).new_page()
        commander.goto(f"{live_server.url}/console/respond/incidents/{incident.pk}/")
        _log_in(commander, "incident_commander")
        expect(commander.locator("[data-count=issued]")).to_have_text("2")
        expect(commander.locator("[data-count=acknowledged]")).to_have_text("1")
        commander.get_by_role("link", name="Show every store's steps").click()
        expect(commander.locator("#stores tbody tr").first).to_contain_text("S001")
        expect(commander.locator("#stores tbody tr").first).to_contain_text("2/7")
