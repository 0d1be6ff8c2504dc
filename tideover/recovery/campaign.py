"""The goodwill campaign: an offer (a code) per affected customer, told by SMS or e-mail
through the outbox, within consent and quiet hours, with pause and resume.

How a campaign survives a crash without sending anything twice:

1. It walks the affected customers in id order, a chunk at a time. Each chunk is one
   transaction that mints the codes, writes the offers, grants bonus points, queues the
   messages and moves the campaign's ``cursor`` past the chunk. A worker killed mid-chunk
   leaves nothing of it; the next run starts from the cursor again.
2. An offer is unique per customer and a message unique per dedupe key
   (``goodwill:<incident>:<time zone>:<customer>``), and points post once per source, so even
   a chunk run twice could not double anything.
3. Sending is the outbox's protocol (notifications/outbox.py): the provider's rate, retries,
   STOP honoured, never a second SMS or e-mail for one row.

Pausing holds the campaign's queued messages (they are not due until released) and stops the
walk; resuming releases them at the end of quiet hours in each store's time zone.
A drill walks everything and counts what it would send; it mints and sends nothing.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.errors import Conflict, DomainError
from tideover.incidents.models import Incident
from tideover.loyalty.adjustments import Grant, grant_points_many
from tideover.loyalty.offers import OfferTerms, mint_goodwill_codes
from tideover.notifications import campaigns as outbox
from tideover.recovery import texts
from tideover.recovery.models import (
    AffectedCustomer,
    Campaign,
    CampaignState,
    GoodwillOffer,
    GoodwillPolicy,
)
from tideover.recovery.policy import (
    Recipient,
    Terms,
    contact_for,
    estimate,
    is_holdout,
    point_value_cents,
    recipients,
    terms_for,
)
from tideover.sales.bulk import insert_rows


def key_prefix(incident_id: int) -> str:
    return f"goodwill:{incident_id}:"


def start_campaign(incident: Incident, *, actor: Actor) -> Campaign:
    """Start sending the incident's offers (after resolution, within the budget, once)."""
    if incident.resolved_at is None:
        raise DomainError(
            "Send the offers once the incident is resolved, so the apology can say it is fixed"
        )
    policy = GoodwillPolicy.objects.filter(incident=incident).first()
    if policy is None:
        raise DomainError("Set the goodwill policy first (offer, validity, budget)")
    if hasattr(incident, "goodwill_campaign"):
        raise Conflict("The campaign for this incident has already been started")
    figures = estimate(incident, policy)
    if not figures["within_budget"]:
        raise DomainError(
            f"The expected cost {texts.dollars(figures['expected_cost_cents'])} is over the "
            f"budget {texts.dollars(policy.budget_cents)}: lower the offer or raise the budget",
            field="budget_cents",
        )
    if not figures["counts"].get("offers"):
        raise DomainError("Nobody can be sent an offer (no consent or no contact details)")
    subject, body = texts.campaign_text(incident)
    try:
        with transaction.atomic():
            return Campaign.objects.create(
                incident=incident,
                state=CampaignState.RUNNING,
                is_drill=incident.is_drill,
                total=figures["counts"].get("affected", 0),
                started_by=actor.name[:150],
                subject=subject,
                body=body,
            )
    except IntegrityError:
        raise Conflict("The campaign for this incident has already been started") from None


def run_campaign(campaign: Campaign, *, chunk_size: int | None = None, max_seconds=None,
                 on_chunk=None) -> Campaign:  # fmt: skip
    """Work through the campaign from its cursor until done, paused or out of time."""
    chunk_size = chunk_size or settings.RECOVERY_CHUNK_SIZE
    started = time.monotonic()
    context = OfferContext(campaign.incident)
    while True:
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if campaign.state != CampaignState.RUNNING:
                return campaign
            customers = recipients(
                AffectedCustomer.objects.filter(incident_id=campaign.incident_id)
                .filter(pk__gt=campaign.cursor)
                .order_by("pk")[:chunk_size]
            )
            if not customers:
                campaign.state = CampaignState.DONE
                campaign.finished_at = timezone.now()
                campaign.save(update_fields=["state", "finished_at"])
                return campaign
            _process(campaign, customers, context)
            campaign.cursor = customers[-1].pk
            campaign.save(update_fields=["cursor", "offers", "queued", "skipped"])
        if on_chunk is not None:
            on_chunk(campaign)
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            return campaign


class OfferContext:
    def __init__(self, incident: Incident):
        self.incident = incident
        self.policy = GoodwillPolicy.objects.get(incident=incident)
        self.point_cents = point_value_cents()
        # Valid from the resolution: nobody has a code before it is sent, and a customer who
        # came back between resolution and the send (offline sales posting late) still counts.
        self.valid_from = incident.resolved_at or timezone.now()
        self.expires_at = self.valid_from + timedelta(days=self.policy.valid_days)
        self._terms: dict[str | None, Terms] = {}

    @functools.cached_property
    def optout(self) -> str:
        """Only for texts written now (a grant by hand): resolving it loads the URL conf."""
        return texts.optout_url()

    def terms(self, tier: str | None) -> Terms:
        """The terms of a tier (the same for everyone in it, so worked out once)."""
        try:
            return self._terms[tier]
        except KeyError:
            found = terms_for(self.policy, tier, point_cents=self.point_cents)
            return self._terms.setdefault(tier, found)


def _process(campaign: Campaign, customers: list[Recipient], ctx: OfferContext) -> None:
    policy = ctx.policy
    skipped = Counter(campaign.skipped)
    already = set(
        GoodwillOffer.objects.filter(
            customer__incident_id=campaign.incident_id,
            customer_id__gte=customers[0].pk,
            customer_id__lte=customers[-1].pk,
        ).values_list("customer_id", flat=True)
    )
    planned = []
    holdouts = []
    holding_out = bool(policy.holdout_percent)
    preference = policy.channel
    for customer in customers:
        if customer.pk in already:
            skipped["already_offered"] += 1
            continue
        if holding_out and is_holdout(policy, customer.pk):
            holdouts.append(customer.pk)
            skipped["holdout"] += 1
            continue
        member = customer.member
        channel, address = contact_for(customer, member, preference)
        if channel is None:
            skipped[address] += 1
            continue
        planned.append((customer, channel, address, ctx.terms(member.tier if member else None)))
    campaign.skipped = dict(skipped)
    if holdouts:
        AffectedCustomer.objects.filter(pk__in=holdouts).update(holdout=True)
    if campaign.is_drill:
        campaign.queued += len(planned)  # what it would send; nothing is minted or queued
        return
    # The texts are written when sent, from the campaign's frozen words (message_texts.py).
    issue_offers(campaign.incident_id, planned, ctx, text=None)
    campaign.offers += len(planned)
    campaign.queued += len(planned)


def issue_offers(incident_id, planned, ctx: OfferContext, *, text: tuple[str, str] | None,
                 created_by: str = "campaign") -> list[int]:  # fmt: skip
    """Mint codes, write offers, grant bonus points and queue one message per planned
    (customer, channel, address, terms), in the caller's transaction. ``text``: the subject
    and the apology written onto each message now, or None for a campaign's messages, whose
    text is written when sent from the campaign's frozen words (message_texts.py)."""
    if not planned:
        return []
    offer_terms = {}  # one OfferTerms per Terms (a tier's terms are one object: ctx.terms)
    for _, _, _, t in planned:
        if id(t) not in offer_terms:
            offer_terms[id(t)] = OfferTerms(
                t.value_cents, t.percent_off, t.min_spend_cents, ctx.valid_from, ctx.expires_at
            )
    minted = mint_goodwill_codes(
        [c.member_id for c, _, _, _ in planned],
        [offer_terms[id(t)] for _, _, _, t in planned],
        source=f"incident:{incident_id}",
    )
    now = timezone.now()
    created_at = connection.ops.adapt_datetimefield_value(now)
    rows, messages = [], []
    prefix = key_prefix(incident_id)
    message = outbox.MarketingMessage
    around: dict[tuple[int, str], tuple[str, str]] = {}  # (terms, channel) -> text parts
    for (customer, channel, address, terms), (reward_id, code) in zip(planned, minted, strict=True):
        zone = customer.time_zone
        key = f"{prefix}{zone}:{customer.pk}"
        rows.append(
            (incident_id, customer.pk, reward_id, code, terms.text, terms.cost_cents,
             terms.bonus_points, False, channel, key, "", zone, created_at, created_by)
        )  # fmt: skip
        if channel and address and text is None:
            messages.append(message(channel, address, "", "", key, time_zone=zone))
        elif channel and address:
            parts = around.get((id(terms), channel))
            if parts is None:
                parts = texts.offer_text_parts(text[1], terms, ctx.expires_at, channel, ctx.optout)
                around[(id(terms), channel)] = parts
            body = texts.greeting(customer.name, channel) + parts[0] + code + parts[1]
            messages.append(message(channel, address, text[0], body, key, time_zone=zone))
    ids = insert_rows(GoodwillOffer, OFFER_FIELDS, rows, returning=True, adapted=True)
    outbox.queue_marketing(messages, incident_id=incident_id, now=now)
    _grant_bonus_points(incident_id, planned, ids, created_by)
    return ids


def _grant_bonus_points(incident_id, planned, offer_ids, created_by: str) -> None:
    """The tier bonus of every member in the chunk, through the ledger in one batch (once per
    offer: the source is the incident and customer)."""
    grants, offers = [], []
    for (customer, _, _, terms), offer_id in zip(planned, offer_ids, strict=True):
        if terms.bonus_points and customer.member is not None:
            grants.append(
                Grant(customer.member_id, terms.bonus_points, f"{incident_id}:{customer.pk}")
            )
            offers.append(offer_id)
    if not grants:
        return
    grant_points_many(
        grants,
        source_type="goodwill",
        reason=f"Goodwill bonus for incident {incident_id}",
        actor=Actor.of(name=f"goodwill:{created_by}"),
    )
    # Granted now or by an earlier run of this chunk: either way the member has them.
    GoodwillOffer.objects.filter(pk__in=offers).update(points_granted=True)


OFFER_FIELDS = [
    "incident",
    "customer",
    "reward",
    "code",
    "discount_text",
    "cost_cents",
    "bonus_points",
    "points_granted",
    "channel",
    "dedupe_key",
    "message_state",
    "store_time_zone",
    "created_at",
    "created_by",
]


@transaction.atomic
def pause(campaign: Campaign, *, actor: Actor) -> Campaign:
    """Stop the walk and hold the messages not yet sent: queued ones, and ones a worker has
    claimed but not handed to the provider. Also after the walk is done, while messages are
    still going out (sending at the provider's rate outlasts the walk)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state not in (CampaignState.RUNNING, CampaignState.DONE):
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}, not sending")
    held = outbox.hold(campaign.incident_id, key_prefix(campaign.incident_id))
    if campaign.state == CampaignState.DONE and not held:
        raise Conflict("Every message of the campaign has gone out: nothing to pause")
    campaign.state = CampaignState.PAUSED
    campaign.save(update_fields=["state"])
    return campaign


@transaction.atomic
def resume(campaign: Campaign, *, actor: Actor) -> Campaign:
    """Carry on: release held messages (after quiet hours, per store time zone) and walk on."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.state != CampaignState.PAUSED:
        raise Conflict("Only a paused campaign can be resumed")
    campaign.state = CampaignState.RUNNING
    campaign.save(update_fields=["state"])
    zones = (
        GoodwillOffer.objects.filter(incident_id=campaign.incident_id)
        .values_list("store_time_zone", flat=True)
        .distinct()
    )
    prefix = key_prefix(campaign.incident_id)
    for zone in zones.order_by():
        outbox.release(campaign.incident_id, f"{prefix}{zone}:", zone)
    return campaign


def progress(campaign: Campaign) -> dict:
    """Where the campaign stands: customers walked, offers, and messages by state."""
    walked = AffectedCustomer.objects.filter(
        incident_id=campaign.incident_id, pk__lte=campaign.cursor
    ).count()
    states = outbox.progress(campaign.incident_id, key_prefix(campaign.incident_id))
    done = sum(states.get(s, 0) for s in ("sent", "delivered", "failed", "cancelled"))
    return {
        "state": campaign.state,
        "walked": walked,
        "total": campaign.total,
        "offers": campaign.offers,
        "queued": campaign.queued,
        "skipped": campaign.skipped,
        "messages": states,
        "percent_walked": round(100 * walked / campaign.total) if campaign.total else 100,
        "percent_sent": round(100 * done / campaign.queued) if campaign.queued else 0,
    }


def advance_campaigns(max_seconds: float = 20.0) -> int:
    """Periodic job: carry every running campaign forward for a while."""
    ran = 0
    for campaign in Campaign.objects.filter(state=CampaignState.RUNNING).select_related("incident"):
        run_campaign(campaign, max_seconds=max_seconds)
        ran += 1
    return ran
