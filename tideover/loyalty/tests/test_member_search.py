"""Customer service finds members by name too, and sees when there are more than one page."""

import pytest

from tideover.loyalty.members import create_member


@pytest.fixture
def many_pats(db, chain):
    for n in range(45):
        create_member(name=f"Pat Example {n:02d}", loyalty_id=f"M{n:07d}")
    create_member(name="Robin Other", loyalty_id="M9999999")


def test_member_search_finds_by_part_of_a_name_case_insensitively(client_as, many_pats):
    page = client_as("customer_service").get("/console/loyalty/", {"q": "robin oth"})
    assert page.status_code == 302 and page["Location"].endswith("/M9999999/")


def test_member_search_says_when_more_match_and_pages_through_them(client_as, many_pats):
    client = client_as("customer_service")
    first = client.get("/console/loyalty/", {"q": "pat example"})
    assert first.status_code == 200
    text = first.content.decode()
    assert "Pat Example 00" in text and "Pat Example 19" in text and "Pat Example 20" not in text
    assert "more members match" in text and "page=2" in text
    third = client.get("/console/loyalty/", {"q": "pat example", "page": "3"}).content
    third = third.decode()
    assert "Pat Example 40" in third and "Pat Example 44" in third
    assert "more members match" not in third and "previous page" in third


def test_an_exact_loyalty_id_wins_over_names_containing_it(client_as, many_pats):
    create_member(name="Someone M0000001 Fan", loyalty_id="M7777777")
    page = client_as("customer_service").get("/console/loyalty/", {"q": "m0000001"})
    assert page.status_code == 302 and page["Location"].endswith("/M0000001/")
