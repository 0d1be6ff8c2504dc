""" "Is my store affected?" on the public status page: by code, name or town, any case, no
JavaScript needed, drills never shown."""

import pytest

from tideover.core.models import ComponentStatus
from tideover.core.tests.browser import PHONE, phone_browser
from tideover.incidents import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def north_outage(severities, components, chain):
    chain["stores"]["S002"].city = "Springfield"
    chain["stores"]["S002"].save()
    return services.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV2"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=False,
        regions=[chain["regions"]["north"]],
        message="Northern stores are selling offline.",
    )


def test_shopper_looks_up_their_store_by_code_name_or_town_in_any_case(client, north_outage):
    index = client.get("/").content.decode()
    assert "Is my store affected?" in index and 'action="/stores"' in index
    assert index.index("Active incidents") < index.index("Is my store affected?")
    for typed in ("s002", "S2", "SPRINGFIELD", "store s002"):
        page = client.get("/stores", {"q": typed}).content.decode()
        assert "Store S002" in page, typed
        assert "Affected by 1 open incident" in page and "Registers cannot reach HQ" in page
        assert "Northern stores are selling offline." in page
    south = client.get("/stores", {"q": "S003"}).content.decode()
    assert "Store S003" in south and "No open incident affects this store." in south
    assert "Registers cannot reach HQ" not in south


def test_store_lookup_says_what_to_type_and_never_shows_drills(client, severities, chain):
    services.declare_incident(
        title="DRILL tills practice",
        severity=severities["SEV1"],
        all_stores=True,
        is_drill=True,
    )
    page = client.get("/stores", {"q": "s001"}).content.decode()
    assert "No open incident affects this store." in page and "DRILL" not in page
    nothing = client.get("/stores", {"q": "Atlantis"})
    assert nothing.status_code == 200
    assert "No store matches “Atlantis”. Try its number or town." in nothing.content.decode()
    empty = client.get("/stores", {"q": "  "}).content.decode()
    assert "Type your store&#x27;s number, name or town." in empty
    long = client.get("/stores", {"q": "x" * 61}).content.decode()
    assert "Type at most 60 characters." in long
    assert client.get("/stores").status_code == 200
    assert client.post("/stores", {"q": "s001"}).status_code == 405


def test_store_lookup_lists_at_most_ten_stores_and_says_more_match(client, chain):
    from tideover.core.models import Store

    for number in range(5, 17):
        Store.objects.create(
            code=f"S{number:03}", name=f"Riverside {number}", region=chain["regions"]["south"]
        )
    page = client.get("/stores", {"q": "riverside"}).content.decode()
    assert page.count('class="card store-answer') == 10
    assert "More stores match; type more of the number, name or town." in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_shopper_checks_their_store_on_a_phone_without_javascript(
    live_server, transactional_db, severities, components, chain, monkeypatch
):
    from playwright.sync_api import expect

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    services.declare_incident(
        title="Card readers down",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=False,
        stores=[chain["stores"]["S003"]],
        message="Card readers at one store are down; cash works.",
    )
    with phone_browser(java_script_enabled=False) as page:
        page.goto(f"{live_server.url}/")
        box = page.get_by_label("Your store's number, name or town")
        box.fill("s3")
        page.get_by_role("button", name="Check").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Is my store affected?")
        expect(page.get_by_text("Affected by 1 open incident")).to_be_visible()
        expect(page.get_by_role("link", name="Card readers down")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_label("Your store's number, name or town").fill("store s001")
        page.get_by_role("button", name="Check").click()
        expect(page.get_by_text("No open incident affects this store.")).to_be_visible()


def test_exported_page_sends_the_store_lookup_to_the_served_site(tmp_path, settings, north_outage):
    from tideover.statuspage import export

    settings.SITE_URL = "https://status.example.com"
    export.export_to(tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'action="https://status.example.com/stores"' in index


def test_store_lookup_queries_stay_flat_as_stores_and_incidents_grow(
    client, severities, chain, django_assert_max_num_queries
):
    from tideover.core.models import Store

    def grow(start: int):
        for number in range(start, start + 6):
            Store.objects.create(
                code=f"S{number:03}", name=f"Riverside {number}", region=chain["regions"]["south"]
            )
        services.declare_incident(
            title=f"Outage {start}",
            severity=severities["SEV3"],
            regions=[chain["regions"]["south"]],
            message="Looking into it.",
        )

    grow(10)
    with django_assert_max_num_queries(12) as small:
        client.get("/stores", {"q": "riverside"})
    grow(20)
    grow(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get("/stores", {"q": "riverside"}).content.decode()
    assert page.count("Affected by 3 open incidents") == 10
