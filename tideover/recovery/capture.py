"""Who was affected: sign-ups in the store (associate form, QR page, API), members whose sales
failed, were declined or were queued offline, and web checkouts that errored.

One person is one record per incident: a new sighting that shares a member, an E.164 phone or
a normalised e-mail with existing records merges them all into the oldest, and every sighting
stays as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tideover.core import emails
from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import DomainError
from tideover.core.models import Store
from tideover.core.phones import to_e164
from tideover.incidents.models import Incident, IncidentKind
from tideover.loyalty.members import find_member
from tideover.recovery.models import AffectedCustomer, Evidence

# What the shopper agrees to, word for word; the record keeps the text as shown.
CONSENT_TEXT = (
    "Yes, {brand} may send me a one-time goodwill offer for this disruption, and marketing "
    "messages, by text message and e-mail. I can opt out at any time (reply STOP)."
)


def consent_text() -> str:
    return CONSENT_TEXT.format(brand=settings.SITE_NAME)


@dataclass
class Person:
    name: str = ""
    phone_e164: str = ""
    email: str = ""
    member: object | None = None  # loyalty Member


def clean_email(raw: str) -> str:
    """The address as every app keeps it (core.emails), or "" when none was given."""
    return emails.clean_email(raw) if (raw or "").strip() else ""


def person_from_form(*, name="", phone="", email="", loyalty_id="") -> Person:
    """Check and normalise what a shopper gave; the first problem is raised, naming its field."""
    phone_e164 = to_e164(phone, field="phone") if (phone or "").strip() else ""
    email = clean_email(email)
    loyalty_id = (loyalty_id or "").strip().upper()
    member = None
    if loyalty_id:
        member = find_member(loyalty_id=loyalty_id)
        if member is None:
            raise DomainError(
                f"No member with loyalty id {loyalty_id}; check the card or leave it empty",
                field="loyalty_id",
            )
    if not (phone_e164 or email or member):
        raise DomainError("Enter a mobile number or an e-mail address", field="phone")
    if member is None:
        member = find_member(phone_e164=phone_e164, email=email)
    return Person(
        name=(name or "").strip()[:200], phone_e164=phone_e164, email=email, member=member
    )


def sign_up(
    incident: Incident,
    store: Store | None,
    person: Person,
    *,
    consent: bool,
    shown_consent_text: str,
    source: str,
    actor: Actor = SYSTEM,
) -> AffectedCustomer:
    """A shopper signed up in the store (associate or QR) or through the API, with consent."""
    if not consent:
        raise DomainError(
            "Tick the consent box: we can only send the offer with the shopper's permission",
            field="consent",
        )
    if not (shown_consent_text or "").strip():
        raise DomainError("Send the consent text the shopper agreed to", field="consent_text")
    check_open_for_sign_up(incident)
    return record(
        incident,
        person,
        source=source,
        store=store,
        at=timezone.now(),
        consent_text=shown_consent_text.strip()[:2000],
        recorded_by=actor.name,
    )


def recovery_window_ends(incident: Incident) -> datetime | None:
    """When sign-up closes: the policy's recovery window after resolution (None: still open)."""
    if incident.resolved_at is None:
        return None
    policy = getattr(incident, "goodwill_policy", None)
    days = policy.recovery_window_days if policy is not None else settings.RECOVERY_WINDOW_DAYS
    return incident.resolved_at + timedelta(days=days)


def check_open_for_sign_up(incident: Incident, now=None) -> None:
    if incident.kind != IncidentKind.INCIDENT:
        raise DomainError("Sign-ups are for incidents, not maintenance windows")
    ends = recovery_window_ends(incident)
    if ends is not None and (now or timezone.now()) > ends:
        raise DomainError(
            f"Sign-up for this incident closed on {timezone.localtime(ends):%-d %b %Y}"
        )


def current_incident(store: Store, now=None) -> Incident | None:
    """The incident a store's shoppers sign up for: the newest one touching the store that is
    open or still inside its recovery window."""
    now = now or timezone.now()
    horizon = now - timedelta(days=max(settings.RECOVERY_WINDOW_DAYS, 31))
    candidates = (
        Incident.objects.incidents()
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=horizon))
        .filter(
            Q(affects_all_stores=True)
            | Q(affected_stores=store)
            | Q(affected_regions=store.region_id)
        )
        .distinct()
        .order_by("-declared_at", "-pk")
    )
    for incident in candidates[:10]:
        ends = recovery_window_ends(incident)
        if ends is None or now <= ends:
            return incident
    return None


def record(
    incident: Incident,
    person: Person,
    *,
    source: str,
    store: Store | None = None,
    at=None,
    amount_cents: int | None = None,
    reference: str = "",
    detail: str = "",
    consent_text: str = "",
    recorded_by: str = "",
    dedupe_key: str | None = None,
) -> AffectedCustomer:
    """Add one sighting of a person to an incident's affected customers, merging records that
    turn out to be the same person. Idempotent per ``dedupe_key`` (a sale, a web order)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _record(
                    incident, person, source, store, at or timezone.now(), amount_cents,
                    reference, detail, consent_text, recorded_by, dedupe_key,
                )  # fmt: skip
        except IntegrityError:
            # Another sign-up of the same person committed first: merge into it.
            continue
    raise DomainError("This person is being signed up elsewhere right now; try again")


@dataclass
class Sighting:
    """One sighting for :func:`record_many`: :func:`record`'s arguments, consent aside (these
    come from records, not from a shopper's form)."""

    person: Person
    source: str
    store: Store | None = None
    at: datetime | None = None
    amount_cents: int | None = None
    reference: str = ""
    detail: str = ""
    recorded_by: str = ""
    dedupe_key: str | None = None


def record_many(incident: Incident, sightings: list[Sighting], *, chunk: int = 500) -> int:
    """File many sightings exactly as :func:`record` would one by one, in order, with a few
    queries per ``chunk`` instead of several per sighting (collecting from an outage's sales
    finds thousands). A chunk in which two records would have to merge, or that meets a
    concurrent sign-up, is filed one by one. Returns the sightings filed as new evidence."""
    filed = 0
    for begin in range(0, len(sightings), chunk):
        part = sightings[begin : begin + chunk]
        try:
            with transaction.atomic():
                done = _record_chunk(incident, part)
        except IntegrityError:
            done = None
        if done is None:  # a merge or a race: the careful path
            before = Evidence.objects.filter(customer__incident=incident).count()
            for s in part:
                record(incident, s.person, source=s.source, store=s.store, at=s.at,
                       amount_cents=s.amount_cents, reference=s.reference, detail=s.detail,
                       recorded_by=s.recorded_by, dedupe_key=s.dedupe_key)  # fmt: skip
            done = Evidence.objects.filter(customer__incident=incident).count() - before
        filed += done
    return filed


def _record_chunk(incident: Incident, part: list[Sighting]) -> int | None:
    """One chunk of :func:`record_many`; None (nothing written) when a merge is needed."""
    keys = [s.dedupe_key for s in part if s.dedupe_key]
    seen = set(Evidence.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    members = {s.person.member.pk for s in part if s.person.member is not None}
    phones = {s.person.phone_e164 for s in part if s.person.phone_e164}
    emails = {s.person.email for s in part if s.person.email}
    index: dict[tuple[str, object], AffectedCustomer] = {}
    loaded = AffectedCustomer.objects.select_for_update().filter(
        Q(member_id__in=members) | Q(phone_e164__in=phones) | Q(email__in=emails),
        incident=incident,
    )
    for customer in loaded.order_by("pk"):
        _index(index, customer)
    touched: dict[int, AffectedCustomer] = {}  # by id(): new ones have no pk yet
    evidence = []
    for s in part:
        if s.dedupe_key and s.dedupe_key in seen:
            continue
        person = s.person
        found = {
            id(c): c
            for c in (
                index.get(("member", person.member.pk)) if person.member is not None else None,
                index.get(("phone", person.phone_e164)) if person.phone_e164 else None,
                index.get(("email", person.email)) if person.email else None,
            )
            if c is not None
        }
        if len(found) > 1:
            return None
        at = s.at or timezone.now()
        customer = next(iter(found.values()), None) or AffectedCustomer(
            incident=incident, created_at=at
        )
        member = person.member
        customer.name = customer.name or person.name or (member.name if member else "")
        customer.phone_e164 = customer.phone_e164 or person.phone_e164
        customer.email = customer.email or person.email
        if customer.member_id is None and member is not None:
            customer.member = member
        customer.store = customer.store or s.store
        _index(index, customer)
        touched[id(customer)] = customer
        evidence.append(
            Evidence(
                customer=customer,
                source=s.source,
                at=at,
                store=s.store,
                amount_cents=s.amount_cents,
                reference=s.reference[:100],
                detail=s.detail[:300],
                recorded_by=s.recorded_by[:150],
                dedupe_key=s.dedupe_key,
            )
        )
        if s.dedupe_key:
            seen.add(s.dedupe_key)
    AffectedCustomer.objects.bulk_create([c for c in touched.values() if c.pk is None])
    fields = ["name", "phone_e164", "email", "member", "store"]
    AffectedCustomer.objects.bulk_update([c for c in touched.values() if c.pk], fields)
    Evidence.objects.bulk_create(evidence)  # takes each new customer's pk
    return len(evidence)


def _index(index: dict, customer: AffectedCustomer) -> None:
    if customer.member_id is not None:
        index[("member", customer.member_id)] = customer
    if customer.phone_e164:
        index[("phone", customer.phone_e164)] = customer
    if customer.email:
        index[("email", customer.email)] = customer


def _record(incident, person, source, store, at, amount, reference, detail, consent, by, key):
    if key and Evidence.objects.filter(dedupe_key=key).exists():
        return Evidence.objects.get(dedupe_key=key).customer
    match = Q(pk__in=[])
    if person.member is not None:
        match |= Q(member=person.member)
    if person.phone_e164:
        match |= Q(phone_e164=person.phone_e164)
    if person.email:
        match |= Q(email=person.email)
    found = list(
        AffectedCustomer.objects.select_for_update().filter(match, incident=incident).order_by("pk")
    )
    if found:
        customer, others = found[0], found[1:]
        for other in others:
            _merge_into(customer, other)
    else:
        customer = AffectedCustomer(incident=incident, created_at=at)
    member = person.member
    customer.name = customer.name or person.name or (member.name if member else "")
    customer.phone_e164 = customer.phone_e164 or person.phone_e164
    customer.email = customer.email or person.email
    if customer.member_id is None and member is not None:
        customer.member = member
    customer.store = customer.store or store
    if consent and not customer.consent_marketing:
        customer.consent_marketing = True
        customer.consent_text = consent
        customer.consent_at = at
        customer.consent_source = source
    customer.save()
    Evidence.objects.create(
        customer=customer,
        source=source,
        at=at,
        store=store,
        amount_cents=amount,
        reference=reference[:100],
        detail=detail[:300],
        recorded_by=by[:150],
        dedupe_key=key,
    )
    return customer


def _merge_into(keep: AffectedCustomer, other: AffectedCustomer) -> None:
    """Fold ``other`` into ``keep``: evidence moves, blanks fill in, one offer survives."""
    Evidence.objects.filter(customer=other).update(customer=keep)
    offer = getattr(other, "offer", None)
    if offer is not None and getattr(keep, "offer", None) is None:
        offer.customer = keep
        offer.save(update_fields=["customer"])
    for field in ("name", "phone_e164", "email", "consent_text", "consent_source"):
        if not getattr(keep, field):
            setattr(keep, field, getattr(other, field))
    keep.member_id = keep.member_id or other.member_id
    keep.store_id = keep.store_id or other.store_id
    if other.consent_marketing and not keep.consent_marketing:
        keep.consent_marketing, keep.consent_at = True, other.consent_at
    other.delete()  # frees its phone / e-mail / member for ``keep`` (unique per incident)
