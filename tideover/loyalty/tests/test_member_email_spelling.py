"""A member's e-mail is kept and looked up in the one spelling every app uses (core/emails.py),
so an address typed with a Unicode, punycode or upper-case domain finds the same member."""

import pytest

from tideover.core.actors import Actor
from tideover.loyalty.members import create_member, find_member, find_members

AGENT = Actor(name="customer_service")
SPELLINGS = [
    "alice@b\u00fccher.de",
    "Alice@B\u00dcCHER.DE",
    "alice@xn--bcher-kva.de",
    "ALICE@XN--BCHER-KVA.DE",
    "alice@b\u00fc\u00adcher.de",  # soft hyphen
]


@pytest.mark.parametrize("typed", SPELLINGS)
def test_a_member_is_found_by_any_spelling_of_the_domain(db, chain, typed):
    member = create_member(name="Alice", loyalty_id="M0000001", email="alice@b\u00fccher.de")
    assert member.email == "alice@xn--bcher-kva.de"
    assert find_member(email=typed) == member
    assert find_members(typed, actor=AGENT).members == [member]


def test_ascii_domains_are_kept_as_typed_and_bad_ones_refused(db, chain):
    from tideover.core.errors import DomainError

    member = create_member(name="Bo", loyalty_id="M0000002", email="Bo@AB--CD.com")
    assert member.email == "bo@ab--cd.com" and find_member(email="bo@ab--cd.com") == member
    with pytest.raises(DomainError) as refused:
        create_member(name="Cy", loyalty_id="M0000003", email="cy@exa..mple.com")
    assert refused.value.field == "email"
    # A look-up of text that is no usable address finds nothing and does not fail.
    assert find_member(email="cy@exa..mple.com") is None


def test_the_migration_puts_stored_addresses_in_the_canonical_spelling_unless_they_collide(
    db, chain
):
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from tideover.loyalty.models import Member

    migration = importlib.import_module(
        "tideover.loyalty.migrations.0007_member_email_domains_canonical"
    )
    stored = {
        "M1": "alice@b\u00fccher.de",  # alone: becomes canonical
        "M2": "bo@b\u00fccher.de",  # bo@xn--bcher-kva.de is M3's already: left
        "M3": "bo@xn--bcher-kva.de",
        "M4": "cy@\uff45xample.com",  # M4 and M5 would share cy@example.com: both left
        "M5": "cy@exa\u00admple.com",
        "M6": "di@exa..mpl\u00e9.com",  # no canonical form: left
        "M7": "ed@ab--cd.com",
    }
    for loyalty_id, email in stored.items():
        Member.objects.create(loyalty_id=loyalty_id, name=loyalty_id, email=email)
    migration.canonical_member_emails(django_apps, connection.schema_editor())
    after = dict(Member.objects.values_list("loyalty_id", "email"))
    assert after == {**stored, "M1": "alice@xn--bcher-kva.de"}
