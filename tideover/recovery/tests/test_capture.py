"""Affected customers: one person is one recipient, with every source kept as evidence."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.errors import DomainError
from tideover.recovery.collect import collect_from_sales
from tideover.recovery.models import AffectedCustomer, Evidence

pytestmark = pytest.mark.django_db


def test_the_same_person_by_phone_email_and_loyalty_id_is_one_record_with_all_evidence(
    incident, sign_up, make_member
):
    member = make_member("M-ONE", phone="+15125550101", email="one@example.com")
    sign_up(phone="(512) 555-0101")  # national format, same E.164
    sign_up(email="ONE@Example.com ")  # case and spaces
    sign_up(loyalty_id="m-one", store="S002", source="qr")
    [customer] = AffectedCustomer.objects.all()
    assert customer.member == member
    assert customer.phone_e164 == "+15125550101" and customer.email == "one@example.com"
    assert customer.evidence.count() == 3
    assert sorted(customer.evidence.values_list("source", flat=True)) == [
        "associate", "associate", "qr",
    ]  # fmt: skip


def test_a_sighting_that_matches_two_records_merges_them_into_the_oldest(incident, sign_up):
    first = sign_up(phone="+15125550102")
    second = sign_up(email="two@example.com")
    merged = sign_up(phone="+15125550102", email="two@example.com")
    assert merged.pk == first.pk
    assert not AffectedCustomer.objects.filter(pk=second.pk).exists()
    assert merged.evidence.count() == 3
    assert merged.phone_e164 == "+15125550102" and merged.email == "two@example.com"


def test_a_phone_that_matches_a_member_links_the_member(incident, sign_up, make_member):
    member = make_member("M-PHONE", phone="+15125550103")
    customer = sign_up(phone="512-555-0103")
    assert customer.member == member


def test_an_unknown_loyalty_id_or_malformed_phone_is_refused_naming_the_field(incident, sign_up):
    with pytest.raises(DomainError) as unknown:
        sign_up(loyalty_id="M-NOBODY")
    assert unknown.value.field == "loyalty_id"
    with pytest.raises(DomainError) as phone:
        sign_up(phone="12")
    assert phone.value.field == "phone"
    assert not AffectedCustomer.objects.exists()


def test_sign_up_without_consent_is_refused_and_writes_nothing(incident, sign_up):
    with pytest.raises(DomainError) as refused:
        sign_up(phone="+15125550104", consent=False)
    assert refused.value.field == "consent"
    assert not AffectedCustomer.objects.exists() and not Evidence.objects.exists()


def test_the_exact_consent_text_is_kept_with_the_sign_up(incident, sign_up, settings):
    from tideover.recovery.capture import consent_text

    customer = sign_up(phone="+15125550105")
    assert customer.consent_marketing and customer.consent_text == consent_text()
    assert settings.SITE_NAME in customer.consent_text and "STOP" in customer.consent_text


def test_members_whose_sales_failed_were_declined_or_queued_offline_are_collected_once(
    incident, make_member, chain
):
    from tideover.sales.services import post_sales

    a, b, c, d = (make_member(f"M-S{i}") for i in range(4))
    during = incident.started_at + timedelta(minutes=30)

    def sale(member, status="completed", store="S001", at=during, number=0):
        return {
            "sale_id": f"{store}-R1-{member.loyalty_id}-{number}", "store": store, "register": "R1",
            "occurred_at": at.isoformat(), "status": status, "member_id": member.loyalty_id,
            "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 1800}],
        }  # fmt: skip

    post_sales([sale(a, "failed"), sale(a, "declined", number=1), sale(b, "declined")])
    post_sales([sale(c, store="S002")])  # posted now, 90 minutes after it happened: offline
    post_sales([sale(d, store="S003", status="failed")])  # S003 was not affected
    post_sales([sale(d, at=timezone.now() - timedelta(seconds=30), number=2)])  # on time
    counts = collect_from_sales(incident)
    assert counts == {"sale_failed": 1, "sale_declined": 2, "sale_offline": 1}
    assert collect_from_sales(incident) == counts  # again: nothing new
    assert Evidence.objects.count() == 4
    people = {c.member.loyalty_id: c for c in AffectedCustomer.objects.select_related("member")}
    assert set(people) == {"M-S0", "M-S1", "M-S2"}
    assert people["M-S0"].evidence.count() == 2
    offline = people["M-S2"].evidence.get()
    assert offline.source == "sale_offline" and offline.amount_cents == 1800
    assert offline.store.code == "S002"


def test_a_sale_the_store_agent_took_offline_counts_however_soon_it_reached_hq(
    incident, make_member
):
    from tideover.sales.services import post_sales

    brief, on_time = make_member("M-BRIEF"), make_member("M-ONTIME")
    at = timezone.now() - timedelta(seconds=30)  # a short blip: far under the lag threshold

    def sale(member):
        return {
            "sale_id": f"S001-R1-{member.loyalty_id}", "store": "S001", "register": "R1",
            "occurred_at": at.isoformat(), "member_id": member.loyalty_id,
            "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 1200}],
        }  # fmt: skip

    taken_offline = sale(brief)
    post_sales([taken_offline, sale(on_time)], queued_offline=[taken_offline["sale_id"]])
    assert collect_from_sales(incident) == {"sale_offline": 1}
    evidence = Evidence.objects.get()
    assert evidence.customer.member.loyalty_id == "M-BRIEF"
    assert evidence.detail.startswith("taken while the store was offline; posted 3")
    assert evidence.detail.endswith(" s after it happened")


def test_a_web_checkout_failure_reported_through_the_api_joins_with_its_evidence(
    incident, client, api_token, make_member
):
    member = make_member("M-WEB", email="web@example.com")
    headers = api_token("recovery:write")
    body = {
        "email": "Web@Example.com", "at": (incident.started_at + timedelta(minutes=5)).isoformat(),
        "amount_cents": 4599, "error": "payment gateway timeout", "order_id": "W-1001",
    }  # fmt: skip
    url = f"/api/v1/recovery/incidents/{incident.pk}/web-checkout-failures"
    first = client.post(url, json.dumps(body), content_type="application/json", **headers)
    assert first.status_code == 201, first.content
    assert first.json()["member"] == "M-WEB" and first.json()["sources"] == ["web_checkout"]
    again = client.post(url, json.dumps(body), content_type="application/json", **headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    evidence = Evidence.objects.get()
    assert evidence.detail == "payment gateway timeout" and evidence.reference == "W-1001"
    assert evidence.customer.member == member
    late = {**body, "at": (timezone.now() + timedelta(hours=3)).isoformat(), "order_id": "W-2"}
    refused = client.post(url, json.dumps(late), content_type="application/json", **headers)
    assert refused.status_code == 400 and refused.json()["field"] == "at"
    naive = {**body, "at": "2026-11-30T10:00:00", "order_id": "W-3"}
    unzoned = client.post(url, json.dumps(naive), content_type="application/json", **headers)
    assert unzoned.status_code == 422 and "time zone" in unzoned.json()["detail"]
    typo = {**body, "order": "W-4"}
    misspelt = client.post(url, json.dumps(typo), content_type="application/json", **headers)
    assert misspelt.status_code == 422 and "order: unknown field" in misspelt.json()["detail"]
    assert Evidence.objects.count() == 1


def test_api_sign_up_needs_the_scope_consent_text_and_a_store_tokens_own_store(
    incident, client, api_token, chain
):
    url = f"/api/v1/recovery/incidents/{incident.pk}/affected"
    body = {"phone": "+15125550106", "consent": True, "consent_text": "Yes, send me the offer."}

    def post(payload, headers):
        return client.post(url, json.dumps(payload), content_type="application/json", **headers)

    assert post(body, api_token("incidents:read")).status_code == 403
    kiosk = api_token("recovery:write", store=chain["stores"]["S001"])
    assert post({**body, "store": "S002"}, kiosk).status_code == 403
    missing = post({"phone": "+15125550106", "consent": True}, kiosk)
    assert missing.status_code == 422 and "consent_text" in missing.json()["detail"]
    no_consent = post({**body, "store": "S001", "consent": False}, kiosk)
    assert no_consent.status_code == 400 and no_consent.json()["field"] == "consent"
    misspelt = post({**body, "stor": "S001"}, kiosk)
    assert misspelt.status_code == 422 and "stor: unknown field" in misspelt.json()["detail"]
    created = post({**body, "store": "S001"}, kiosk)
    assert created.status_code == 201 and created.json()["sources"] == ["api"]
    assert AffectedCustomer.objects.get().consent_text == "Yes, send me the offer."


def _people() -> set:
    return {
        (
            c.name, c.phone_e164, c.email, c.member.loyalty_id if c.member else "",
            c.store.code if c.store else "",
            tuple(sorted(c.evidence.values_list("source", "reference", "dedupe_key"))),
        )
        for c in AffectedCustomer.objects.select_related("member", "store")
    }  # fmt: skip


@pytest.mark.parametrize("chunk", [500, 2])
def test_many_sightings_at_once_are_filed_as_one_by_one_would_merges_included(
    incident, sign_up, make_member, chain, chunk
):
    from tideover.recovery.capture import Person, Sighting, record, record_many

    shared = "+15125550110"  # two members share a household phone: one person for us
    a = make_member("M-A", phone=shared, email="a@example.com")
    b = make_member("M-B", phone=shared)
    c = make_member("M-C", email="c@example.com")
    d = make_member("M-D", phone="+15125550111", email="d@example.com")
    store = chain["stores"]["S001"]
    at = incident.started_at + timedelta(minutes=5)

    def seen(member, ref, phone=None, email=None):
        person = Person(member.name, member.phone_e164 if phone is None else phone,
                        member.email if email is None else email, member)  # fmt: skip
        return Sighting(person, source="sale_offline", store=store, at=at, amount_cents=900,
                        reference=ref, detail="late", recorded_by="collector",
                        dedupe_key=f"sale:{ref}")  # fmt: skip

    sightings = [
        seen(a, "s1"),
        seen(b, "s2"),
        seen(c, "s3"),
        seen(a, "s1"),  # s1 twice: once
        seen(d, "s4", email=""),
        seen(c, "s5", phone="+15125550111"),  # c's phone is d's: merge
        seen(b, "s6"),
    ]
    sign_up(email="c@example.com")  # already signed up in the store
    for s in sightings:
        record(incident, s.person, source=s.source, store=s.store, at=s.at,
               amount_cents=s.amount_cents, reference=s.reference, detail=s.detail,
               recorded_by=s.recorded_by, dedupe_key=s.dedupe_key)  # fmt: skip
    one_by_one = _people()
    AffectedCustomer.objects.all().delete()
    sign_up(email="c@example.com")
    assert record_many(incident, sightings, chunk=chunk) == 6
    assert _people() == one_by_one
    assert record_many(incident, sightings, chunk=chunk) == 0  # again: nothing new
    assert _people() == one_by_one
    assert len(one_by_one) == 2  # a and b by phone; c, d and the sign-up by the merge
