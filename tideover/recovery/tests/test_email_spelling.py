"""Recovery and loyalty keep e-mail addresses in one spelling (core/emails.py): a shopper who
types their domain another way is linked to their member, and customer service finds them."""

from __future__ import annotations

import pytest

from tideover.core.actors import Actor
from tideover.recovery import servicedesk

pytestmark = pytest.mark.django_db
AGENT = Actor(name="customer_service")


def test_a_sign_up_in_another_spelling_links_the_member_and_the_search_finds_it(
    incident, sign_up, make_member
):
    member = make_member("M0000042", email="alice@B\u00fccher.de")
    customer = sign_up(email="ALICE@xn--bcher-kva.de")
    assert customer.email == member.email == "alice@xn--bcher-kva.de"
    assert customer.member == member
    for typed in ("alice@b\u00fccher.de", " Alice@XN--BCHER-KVA.de ", "alice@b\u00fc\u200bcher.de"):
        found = servicedesk.lookup(typed, actor=AGENT)
        assert found["member"] == member, typed
        assert [card["customer"] for card in found["cards"]] == [customer], typed


def test_customer_service_searches_ascii_double_hyphen_domains_as_typed(incident, sign_up):
    customer = sign_up(email="bo@r3---sn-abc.googlevideo.com")
    found = servicedesk.lookup("BO@r3---SN-abc.googlevideo.com", actor=AGENT)
    assert [card["customer"] for card in found["cards"]] == [customer]


def test_the_migration_puts_stored_addresses_in_the_canonical_spelling_unless_taken(incident):
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from tideover.recovery.models import AffectedCustomer

    migration = importlib.import_module(
        "tideover.recovery.migrations.0004_customer_email_domains_canonical"
    )
    stored = [
        "alice@b\u00fccher.de",  # becomes canonical
        "bo@b\u00fccher.de",  # bo@xn--bcher-kva.de is taken in this incident: left
        "bo@xn--bcher-kva.de",
        "cy@exa..mpl\u00e9.com",  # no canonical form: left
    ]
    made = [AffectedCustomer.objects.create(incident=incident, email=e) for e in stored]
    migration.canonical_customer_emails(django_apps, connection.schema_editor())
    after = [AffectedCustomer.objects.get(pk=c.pk).email for c in made]
    assert after == ["alice@xn--bcher-kva.de", *stored[1:]]


def test_an_address_kept_in_an_older_spelling_can_still_opt_out_and_be_found(make_member):
    """Rows stored before canonical domains, and those the migrations left as they were (the
    canonical spelling was taken, or there is none: IDNA 2008 refuses a snowman), keep their
    old spelling: typed that way, opting out and the searches still reach them."""
    from tideover.loyalty.members import find_member, find_members
    from tideover.loyalty.models import Member
    from tideover.recovery.consent import opt_out

    make_member("M0000043", email="di@example.com", mail=True)
    Member.objects.filter(loyalty_id="M0000043").update(email="di@\u2603.net")
    opt_out("Di@\u2603.net")
    member = Member.objects.get(loyalty_id="M0000043")
    assert member.consent_marketing_email is False
    assert find_member(email="di@\u2603.net") == member
    assert find_members("di@\u2603.net", actor=AGENT).members == [member]
    assert servicedesk.lookup("DI@\u2603.net", actor=AGENT)["member"] == member
