"""One mailbox, one subscriber, whatever characters the domain is spelt with: invisible ones,
compatibility letters, Unicode or punycode (core/emails.py)."""

import importlib

import pytest
from django.core.mail.message import sanitize_address
from django.test import Client

from tideover.core.errors import DomainError
from tideover.notifications.channels.email import clean_email
from tideover.notifications.models import OutboxMessage, Subscriber

SPELLINGS = [
    "alice@example.com",
    "alice@exa\u00admple.com",  # soft hyphen
    "alice@exa\u00ad\u00admple.com",
    "alice@exam\u200bple.com",  # zero-width space
    "alice@example.com\u200b",
    "alice@e\u2060xample.com.",  # word joiner, trailing dot
    "alice@\uff45xample.com",  # full-width e
    "alice@\u212fxample.com",  # script small e
    "ALICE@EXAMPLE.COM",
]


def test_invisible_and_lookalike_domain_spellings_are_one_subscriber_under_one_limit(db, settings):
    settings.SIGNUP_PER_EMAIL_PER_DAY = 5
    for n, spelling in enumerate(SPELLINGS):
        # A different network each time: only the per-address limit is in play.
        Client().post(
            "/subscribe/", {"channel": "email", "email": spelling}, REMOTE_ADDR=f"203.0.113.{n + 1}"
        )
    assert list(Subscriber.objects.values_list("address", flat=True)) == ["alice@example.com"]
    confirmations = OutboxMessage.objects.filter(dedupe_key__startswith="confirm:")
    assert [m.recipient for m in confirmations] == ["alice@example.com"]
    # The limit counted every spelling as the one address: the sixth try is refused.
    page = Client().post(
        "/subscribe/", {"channel": "email", "email": SPELLINGS[0]}, REMOTE_ADDR="198.51.100.1"
    )
    assert page.status_code == 429


def test_unicode_and_punycode_domains_are_kept_in_the_ascii_form_the_mail_layer_sends():
    assert clean_email("Jo@B\u00fccher.de") == "jo@xn--bcher-kva.de"
    assert clean_email("jo@xn--bcher-kva.de") == "jo@xn--bcher-kva.de"
    # IDNA 2008: ß is its own letter (Python's IDNA 2003 codec would send it to strasse.de).
    assert clean_email("jo@stra\u00dfe.de") == "jo@xn--strae-oqa.de"
    assert sanitize_address("jo@xn--strae-oqa.de", "utf-8") == "jo@xn--strae-oqa.de"


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("a@[127.0.0.1]", "not an IP address"),
        ("a@[IPv6:::1]", "not an IP address"),
        ("a@xn--zz.example", "usable domain"),  # punycode that decodes to nothing
        ("a@exa..mple.com", "usable domain"),
        ("a@exa\u2615mple.com\u0000", "usable domain"),
    ],
)
def test_ip_literal_and_unnormalisable_domains_are_refused_with_a_clear_message(address, says):
    with pytest.raises(DomainError) as refused:
        clean_email(address)
    assert says in refused.value.message and refused.value.field == "email"


def test_the_migration_merges_spellings_of_one_mailbox_and_old_links_still_work(db):
    migration = importlib.import_module(
        "tideover.notifications.migrations.0011_email_domains_canonical"
    )
    from django.apps import apps as django_apps
    from django.db import connection

    made = [
        Subscriber.objects.create(channel="email", address=address, state=state)
        for address, state in [
            ("bo@exa\u00admple.com", "active"),
            ("bo@example.com", "pending"),
            ("bo@b\u00fccher.de", "pending"),
            ("bo@[127.0.0.1]", "active"),
        ]
    ]
    queued = OutboxMessage.objects.create(
        channel="email", recipient="bo@example.com", subscriber=made[1], dedupe_key="q1"
    )
    migration.canonical_email_domains(django_apps, connection.schema_editor())
    kept = dict(Subscriber.objects.filter(merged_into=None).values_list("address", "state"))
    assert kept == {
        "bo@example.com": "active",
        "bo@xn--bcher-kva.de": "pending",
        "bo@[127.0.0.1]": "active",  # no canonical form: left for staff to see
    }
    made[1].refresh_from_db()
    assert made[1].merged_into_id == made[0].pk and made[1].state == "unsubscribed"
    queued.refresh_from_db()
    assert queued.state == "cancelled"
    assert Client().post(f"/unsubscribe/{made[1].token}/").status_code == 200
    made[0].refresh_from_db()
    assert made[0].state == "unsubscribed"


@pytest.mark.parametrize(
    "address",
    ["a@ab--cd.com", "a@r3---sn-abc.googlevideo.com", "a@x1--y.example.org", "a@AB--CD.com"],
)
def test_ascii_domains_with_double_hyphens_are_kept_as_they_are(db, address):
    # IDNA 2008 refuses '--' in a label's third and fourth places; plain ASCII labels skip it.
    assert clean_email(address) == address.lower()
    page = Client().post("/subscribe/", {"channel": "email", "email": address})
    assert page.status_code == 200
    assert list(Subscriber.objects.values_list("address", flat=True)) == [address.lower()]


def test_only_non_ascii_labels_go_through_idna_and_punycode_labels_must_round_trip():
    assert clean_email("a@ab--cd.B\u00fccher.de") == "a@ab--cd.xn--bcher-kva.de"
    assert clean_email("a@XN--BCHER-KVA.ab--cd.com") == "a@xn--bcher-kva.ab--cd.com"
    for refused in ("a@xn--ab--cd.com", "a@a_b.com", "a@-ab.com"):
        with pytest.raises(DomainError):
            clean_email(refused)


def test_the_migration_does_not_depend_on_app_code(db, monkeypatch):
    # A historical migration must keep doing what it did when the app's function changes or
    # moves: it may import Django and idna, never tideover's own modules.
    import builtins

    migration = importlib.import_module(
        "tideover.notifications.migrations.0011_email_domains_canonical"
    )
    from django.apps import apps as django_apps
    from django.db import connection

    real_import = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name.startswith("tideover.") and ".migrations" not in name:
            raise ImportError(f"a migration imported app code: {name}")
        return real_import(name, *args, **kwargs)

    Subscriber.objects.create(channel="email", address="cy@B\u00fccher.de", state="active")
    Subscriber.objects.create(channel="email", address="cy@ab--cd.com", state="active")
    with monkeypatch.context() as patched:
        patched.setattr(builtins, "__import__", guarded)
        migration.canonical_email_domains(django_apps, connection.schema_editor())
    assert sorted(Subscriber.objects.values_list("address", flat=True)) == [
        "cy@ab--cd.com",
        "cy@xn--bcher-kva.de",
    ]
