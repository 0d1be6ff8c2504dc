"""The status page in a real Chromium on a phone screen, with JavaScript switched off."""

from __future__ import annotations

import pytest

from tideover.core.tests.browser import PHONE, outside_the_browser_loop, phone_browser
from tideover.statuspage.services import render_and_export


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_phone_without_javascript_reads_status_updates_and_history(
    live_server, transactional_db, severities, components, monkeypatch
):
    from playwright.sync_api import expect

    from tideover.core.models import ComponentStatus
    from tideover.incidents import services

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    incident = services.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        message="Stores keep selling offline.",
    )
    with phone_browser(java_script_enabled=False) as page:
        page.goto(f"{live_server.url}/")
        expect(page.get_by_role("status")).to_have_text("Major Service Outage")
        expect(page.get_by_text("Stores keep selling offline.")).to_be_visible()
        # Nothing wider than the phone: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # A phone shows the last 30 days of bars; today's bar says what happened.
        bars = page.locator("ul.components > li").first.locator("ol.bars li")
        assert bars.count() == 90
        visible = [b for b in bars.all() if b.is_visible()]
        assert len(visible) == 30
        assert "worst major outage" in visible[-1].get_attribute("title")

        outside_the_browser_loop(
            lambda: services.post_public_update(incident, "Registers in the north are back.")
        )
        # What the worker's publish task runs (RQ's worker wants the main thread, this is not it).
        outside_the_browser_loop(render_and_export)
        page.reload()
        expect(page.get_by_text("Registers in the north are back.")).to_be_visible()
        page.get_by_role("link", name="Registers cannot reach HQ").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Registers cannot reach HQ")
