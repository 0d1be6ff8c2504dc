"""Social posts: is it about us, is it about an outage, how angry is it.

Matching is by configured terms (``SocialTerm`` rows; brand terms fall back to the
``SOCIAL_BRAND_TERMS`` setting): a post is *about the brand* when it names a brand term (also as
@handle or inside a hashtag), and a *complaint* when it also has an outage phrase or an outage
hashtag (``#<brand>outage``, ``#<brand>down``).

Sentiment is VADER (its lexicon ships inside the package), extended with a retail-outage
lexicon of our own: VADER alone does not know "outage" or "declined", and reads "can't pay :("
as neutral-to-positive because "pay" is not negative and the negation has nothing to flip.
Multi-word outage phrases are joined into single tokens before scoring so the lexicon can
weigh them ("can't pay" -> "cantpay").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core.models import Store
from tideover.detect.models import SocialPost, SocialTerm, SocialTermKind
from tideover.detect.signals import MAX_AGE

DEFAULT_OUTAGE_PHRASES = (
    "outage",
    "registers down",
    "register down",
    "tills down",
    "till down",
    "system down",
    "systems down",
    "site down",
    "website down",
    "app down",
    "is down",
    "are down",
    "went down",
    "can't pay",
    "cant pay",
    "cannot pay",
    "couldn't pay",
    "unable to pay",
    "card machine",
    "card machines",
    "card reader",
    "card readers",
    "card declined",
    "cards declined",
    "card got declined",
    "payment failed",
    "payments failing",
    "payment declined",
    "payment error",
    "cash only",
    "not taking cards",
    "won't take my card",
    "wont take my card",
    "checkout error",
    "checkout broken",
    "checkout is broken",
    "checkout failing",
    "checkout keeps failing",
    "can't check out",
    "cant check out",
    "can't checkout",
    "not working",
    "isn't working",
    "stopped working",
    "offline",
    "points missing",
    "points not showing",
    "points didn't post",
    "didn't post",
    "error message",
    "crashed",
    "crashing",
    "frozen",
    "declined",
    "error",
    "still down",
    "been down",
    "down for everyone",
    "not taking",
    "can't take cards",
)
# A post that names an outage but reads happy ("thanks for the quick fix after the outage")
# is not a complaint.
COMPLAINT_MAX_SENTIMENT = 0.25

# Our retail-outage words, on VADER's scale (-4 .. +4).
RETAIL_LEXICON = {
    "outage": -2.6,
    "outages": -2.6,
    "offline": -1.6,
    "declined": -2.2,
    "decline": -1.5,
    "crashed": -2.2,
    "crashing": -2.2,
    "broken": -2.0,
    "frozen": -1.4,
    "glitch": -1.6,
    "glitchy": -1.6,
    "error": -1.6,
    "errors": -1.6,
    "unusable": -2.4,
    "queue": -0.6,
    "queues": -0.8,
    "ridiculous": -2.0,
    "joke": -1.2,
    "again": -0.3,
    "cantpay": -2.6,
    "cannotpay": -2.6,
    "couldntpay": -2.4,
    "unabletopay": -2.4,
    "cashonly": -1.4,
    "notworking": -2.4,
    "isntworking": -2.0,
    "stoppedworking": -2.2,
    "registersdown": -2.4,
    "tillsdown": -2.4,
    "sitedown": -2.4,
    "appdown": -2.2,
    "isdown": -2.0,
    "aredown": -2.0,
    "wentdown": -2.0,
    "carddeclined": -2.2,
    "paymentfailed": -2.4,
    "checkouterror": -2.4,
    "cantcheckout": -2.4,
    "pointsmissing": -1.8,
    "canttakecards": -2.4,
    "systemdown": -2.4,
    "machinesdown": -2.4,
    "notshowing": -1.8,
    "beendown": -2.2,
    "wontload": -2.0,
    "vanished": -1.8,
    "outagetag": -2.4,
    "didntpost": -2.0,
    "walkedout": -1.8,
    "fixed": 1.6,
    "back up": 1.4,
    "backup": 0.0,
    "resolved": 1.6,
}
_JOINED = {
    "can't pay": "cantpay",
    "cant pay": "cantpay",
    "cannot pay": "cannotpay",
    "couldn't pay": "couldntpay",
    "unable to pay": "unabletopay",
    "cash only": "cashonly",
    "not working": "notworking",
    "isn't working": "isntworking",
    "stopped working": "stoppedworking",
    "registers down": "registersdown",
    "tills down": "tillsdown",
    "site down": "sitedown",
    "app down": "appdown",
    "is down": "isdown",
    "are down": "aredown",
    "went down": "wentdown",
    "card declined": "carddeclined",
    "payment failed": "paymentfailed",
    "checkout error": "checkouterror",
    "can't check out": "cantcheckout",
    "cant check out": "cantcheckout",
    "points missing": "pointsmissing",
    "walked out": "walkedout",
    "can't take cards": "canttakecards",
    "website down": "sitedown",
    "systems down": "systemdown",
    "system down": "systemdown",
    "machines down": "machinesdown",
    "machine down": "machinesdown",
    "register down": "registersdown",
    "not taking cards": "canttakecards",
    "aren't working": "notworking",
    "not showing": "notshowing",
    "been down": "beendown",
    "won't load": "wontload",
    "vanished": "vanished",
    "didn't post": "didntpost",
}
NEGATIVE = -0.05


def normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(RETAIL_LEXICON)
    return analyzer


def sentiment(text: str) -> float:
    """VADER's compound score (-1 .. +1) with the retail-outage lexicon."""
    prepared = re.sub(r"#\w+(?:outage|down|fail|fails|broken)\b", "outagetag", normalise(text))
    for phrase, token in _JOINED.items():
        prepared = prepared.replace(phrase, token)
    return _analyzer().polarity_scores(prepared)["compound"]


@dataclass(frozen=True)
class Terms:
    brands: tuple[str, ...]
    outage: tuple[str, ...]


def configured_terms() -> Terms:
    brands, outage = [], []
    for kind, phrase in SocialTerm.objects.values_list("kind", "phrase"):
        (brands if kind == SocialTermKind.BRAND else outage).append(normalise(phrase))
    if not brands:
        brands = [normalise(t) for t in getattr(settings, "SOCIAL_BRAND_TERMS", []) if t.strip()]
    return Terms(tuple(brands), tuple(outage) or DEFAULT_OUTAGE_PHRASES)


def _word(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])")


@dataclass(frozen=True)
class Match:
    about_brand: bool
    complaint: bool
    matched: list[str]


def is_complaint(text: str, terms: Terms) -> bool:
    """About us, about an outage, and not happy about it."""
    found = match(text, terms)
    return found.complaint and sentiment(text) < COMPLAINT_MAX_SENTIMENT


def match(text: str, terms: Terms) -> Match:
    """Which brand terms and outage phrases the post has."""
    plain = normalise(text)
    squashed = {tag for tag in re.findall(r"#(\w+)", plain)}
    mentions = {m for m in re.findall(r"@(\w+)", plain)}
    found = []
    for brand in terms.brands:
        compact = brand.replace(" ", "")
        if (
            _word(brand).search(plain)
            or any(compact in tag for tag in squashed)
            or any(compact in m for m in mentions)
        ):
            found.append(brand)
    about = bool(found)
    outage = [p for p in terms.outage if _word(p).search(plain)]
    for brand in terms.brands:
        compact = brand.replace(" ", "")
        for suffix in ("outage", "down", "fail", "fails", "broken"):
            if f"{compact}{suffix}" in squashed:
                outage.append(f"#{compact}{suffix}")
    return Match(about, about and bool(outage), found + outage)


@dataclass(frozen=True)
class PostResult:
    id: str
    result: str
    about_brand: bool = False
    complaint: bool = False
    sentiment: float = 0.0
    matched: tuple[str, ...] = ()
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "result": self.result,
            "reason": self.reason,
            "about_brand": self.about_brand,
            "complaint": self.complaint,
            "sentiment": self.sentiment,
            "matched": list(self.matched),
        }


def _store_for(place: str) -> Store | None:
    place = (place or "").strip()
    if not place:
        return None
    store = Store.objects.filter(code__iexact=place).first()
    if store is not None:
        return store
    in_city = list(Store.objects.filter(city__iexact=place)[:2])
    return in_city[0] if len(in_city) == 1 else None


def _person_key(handle: str) -> str:
    return hashlib.sha256(f"social|{handle.lower()}".encode()).hexdigest()


@transaction.atomic
def ingest_posts(items: list[dict]) -> list[PostResult]:
    """Store each post once (by the platform's id), match and score it, and count complaints
    (one per handle per hour) into the complaint signal."""
    from tideover.detect.derived import count_complaint

    terms = configured_terms()
    ids = [str(item["id"]) for item in items]
    known = set(
        SocialPost.objects.filter(external_id__in=ids).values_list("external_id", flat=True)
    )
    results = []
    for item in items:
        external_id = str(item["id"])
        if external_id in known:
            results.append(PostResult(external_id, "duplicate"))
            continue
        known.add(external_id)
        text = item["text"]
        posted_at = item["posted_at"]
        if timezone.is_naive(posted_at):
            posted_at = posted_at.replace(tzinfo=UTC)
        try:
            posted_at = posted_at.astimezone(UTC)
        except OverflowError:
            posted_at = datetime.min.replace(tzinfo=UTC)
        if posted_at < timezone.now() - MAX_AGE:
            results.append(
                PostResult(external_id, "rejected", reason="posted_at is more than 400 days old")
            )
            continue
        found = match(text, terms)
        score = sentiment(text) if found.about_brand else 0.0
        complaint = found.complaint and score < COMPLAINT_MAX_SENTIMENT
        post = SocialPost.objects.create(
            external_id=external_id,
            handle=item.get("handle", "")[:100],
            text=text,
            posted_at=min(posted_at, timezone.now()),
            place=item.get("place", "")[:100],
            store=_store_for(item.get("place", "")),
            about_brand=found.about_brand,
            complaint=complaint,
            matched=found.matched,
            sentiment=score,
        )
        if complaint:
            count_complaint(post, _person_key(post.handle or external_id))
        results.append(
            PostResult(
                external_id,
                "ingested",
                found.about_brand,
                found.complaint,
                score,
                tuple(found.matched),
            )
        )
    return results


def parse_time(value: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)
