"""What the customer reads: apology, the plain explanation from the incident's public summary,
the offer, how to redeem it, and how to opt out."""

from __future__ import annotations

import functools
from typing import NamedTuple

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tideover.incidents.models import Incident

SMS_EXPLANATION_CHARS = 140


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def explanation(incident: Incident) -> str:
    """The plain explanation: the newest public update's words (what the public was told)."""
    update = incident.public_updates.order_by("-posted_at", "-pk").first()
    return (update.body if update else incident.title).strip()


def campaign_text(incident: Incident) -> tuple[str, str]:
    """Subject and body template of an incident's offer message."""
    subject = f"{settings.SITE_NAME}: we're sorry, here is something for your next visit"
    body = (
        f"We're sorry about the trouble at {settings.SITE_NAME} on "
        f"{timezone.localtime(incident.started_at or incident.declared_at):%-d %b}. "
        f"{explanation(incident)}"
    )
    return subject, body


@functools.lru_cache(maxsize=16)
def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


@functools.lru_cache(maxsize=64)
def _until(until) -> str:
    return f"{timezone.localtime(until):%-d %b %Y}"


@functools.lru_cache(maxsize=64)
def _minimum(cents: int) -> str:
    return f" on a purchase of {dollars(cents)} or more" if cents else ""


def optout_url() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("recovery:optout")


def offer_text(body: str, customer, terms, code: str, until, channel: str, optout=None) -> str:
    """One customer's message: the campaign's apology and explanation, then their offer.
    (A campaign passes ``optout`` once instead of resolving the URL per message.)"""
    before, after = offer_text_parts(body, terms, until, channel, optout or optout_url())
    return greeting(customer.name, channel) + before + code + after


def greeting(name: str, channel: str) -> str:
    if channel == "sms" or not name.strip():
        return ""
    return f"Hello {name.split()[0]},\n\n"


class Wording(NamedTuple):
    """What of an offer's terms its message says (a policy's ``Terms`` says the same)."""

    text: str  # "$5.00 off", "15% off"
    min_spend_cents: int
    bonus_points: int


@functools.lru_cache(maxsize=64)
def offer_text_parts(body: str, terms, until, channel: str, optout: str) -> tuple[str, str]:
    """The message around its code, after the greeting: the same for everyone a campaign
    offers the same terms on one channel, so a million messages are put together, not
    written out."""
    until_text = _until(until)
    minimum = _minimum(terms.min_spend_cents)
    points = (
        f" We have also added {terms.bonus_points} points to your account."
        if terms.bonus_points
        else ""
    )
    if channel == "sms":
        return (
            f"{_short(body, SMS_EXPLANATION_CHARS)} Thank you for your patience: {terms.text}"
            f"{minimum} with code ",
            f" until {until_text}; show it at the till.{points}",
        )
    return (
        f"{body}\n\n"
        f"To thank you for your patience: {terms.text}{minimum}, once, in any of our stores "
        f"until {until_text}.{points}\n\n"
        "Your code: ",
        "\nShow this e-mail or read the code to the cashier at the till.\n\n"
        f"You get this because you agreed to hear from us. To stop marketing messages, "
        f"go to {optout}",
    )
