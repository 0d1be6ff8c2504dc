"""Console tables on a phone (390 px): each row stacks into a card, so no column is cut off and
the page never scrolls sideways. Real Chromium, real pages, real rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.tests.browser import PHONE

# Every cell that holds text must be on screen and not clipped: its box inside the viewport's
# width and its text no wider than its box.
CELLS_OUT_OF_VIEW = """
() => [...document.querySelectorAll("main table td, main table tbody th")]
  .filter(c => c.innerText.trim())
  .filter(c => {
    const box = c.getBoundingClientRect();
    const shown = c.offsetParent !== null && box.width > 0;
    return !shown || box.left < 0 || box.right > window.innerWidth || c.scrollWidth > c.clientWidth + 1;
  })
  .map(c => c.dataset.label + "=" + c.innerText.trim().slice(0, 40))
"""


def _console_with_wide_tables(severities, components, chain):
    from tideover.incidents import services as incidents
    from tideover.loyalty.adjustments import grant_points
    from tideover.loyalty.members import create_member
    from tideover.notifications.models import OutboxMessage, Subscriber
    from tideover.storelink.services import set_card_policy

    incident = incidents.declare_incident(
        title="Card payments failing in the north",
        severity=severities["SEV2"],
        components={components["card-payments"]: "major_outage"},
        all_stores=True,
    )
    subscriber = Subscriber.objects.create(
        channel="email", address="a.very.long.address.for.a.shopper@example-retail-chain.com"
    )
    for n in range(3):
        OutboxMessage.objects.create(
            channel="email",
            recipient=subscriber.address,
            subscriber=subscriber,
            incident_id=incident.pk,
            state="failed",
            last_error="SMTP 451 4.7.1 Greylisted, please try again in a few minutes" * (n + 1),
            dedupe_key=f"phone-{n}",
        )
    member = create_member(name="Dana Shopper", loyalty_id="M0000042", consents={})
    for n in range(3):
        grant_points(
            member,
            250,
            source_type="goodwill",
            source_id=f"incident-{incident.pk}-{n}",
            reason="Sorry about the card outage at your store on Friday evening",
        )
    start = timezone.now() + timedelta(days=3)
    incidents.schedule_maintenance(
        title="Loyalty database upgrade to the new version with a long title",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["loyalty"], components["card-payments"]],
        message="",
    )
    set_card_policy(
        store=chain["stores"]["S001"],
        per_sale_limit_cents=15000,
        total_limit_cents=300000,
        max_count=40,
        max_age_minutes=120,
    )
    return incident, member


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_console_tables_fit_a_phone_with_every_column_visible(
    live_server, severities, components, chain, staff, phone_page
):
    incident, member = _console_with_wide_tables(severities, components, chain)
    page = phone_page
    page.goto(f"{live_server.url}/console/")
    page.get_by_label("Username").fill("administrator")
    page.get_by_label("Password").fill("pw-for-tests-only")
    page.get_by_role("button", name="Log in").click()
    pages = {
        "delivery log": f"/console/notifications/delivery/?incident={incident.pk}",
        "member statement": f"/console/loyalty/members/{member.loyalty_id}/",
        "subscribers": "/console/notifications/",
        "store links": "/console/stores/",
        "card policies": "/console/stores/card-policy/",
        "maintenance": "/console/maintenance/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        assert page.locator("main table").count(), name
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} scrolls sideways: {width}px"
        assert page.evaluate(CELLS_OUT_OF_VIEW) == [], name
    # Each stacked cell still says which column it is.
    page.goto(live_server.url + pages["delivery log"])
    error = page.locator("main table td[data-label=error]").first
    label = error.evaluate("c => getComputedStyle(c, '::before').content")
    assert label == '"error: "' and "Greylisted" in error.inner_text()
    page.goto(live_server.url + pages["member statement"])
    why = page.locator("#statement td[data-label=Why]").first
    assert why.is_visible() and "card outage" in why.inner_text()
