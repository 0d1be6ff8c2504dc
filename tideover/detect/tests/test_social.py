"""Matching and sentiment on a labelled set of posts written for these tests (209 posts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tideover.detect import social
from tideover.detect.models import SignalPoint, SocialPost, SocialTerm

LABELLED = Path(__file__).parent / "data" / "social_posts.txt"
TERMS = social.Terms(("tideover",), social.DEFAULT_OUTAGE_PHRASES)


def labelled() -> list[tuple[str, str]]:
    rows = []
    for line in LABELLED.read_text().splitlines():
        if line and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def precision_recall(predicted: list[bool], actual: list[bool]) -> tuple[float, float]:
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    return tp / max(sum(predicted), 1), tp / max(sum(actual), 1)


def test_the_labelled_set_has_at_least_200_posts():
    rows = labelled()
    assert len(rows) >= 200
    assert sum(1 for label, _ in rows if label == "C") >= 100


def test_complaints_are_matched_with_high_precision_and_recall():
    rows = labelled()
    predicted = [social.is_complaint(text, TERMS) for _, text in rows]
    actual = [label == "C" for label, _ in rows]
    precision, recall = precision_recall(predicted, actual)
    assert precision >= 0.95, precision
    assert recall >= 0.90, recall


def test_posts_about_the_brand_are_recognised():
    rows = labelled()
    predicted = [social.match(text, TERMS).about_brand for _, text in rows]
    actual = [label[0] in "CB" for label, _ in rows]
    precision, recall = precision_recall(predicted, actual)
    assert precision == 1.0 and recall >= 0.98, (precision, recall)


def test_complaints_read_negative_and_happy_posts_do_not():
    rows = labelled()
    complaints = [social.sentiment(t) for label, t in rows if label == "C"]
    happy = [social.sentiment(t) for label, t in rows if label == "B+"]
    negative_recall = sum(s <= social.NEGATIVE for s in complaints) / len(complaints)
    happy_called_negative = sum(s <= social.NEGATIVE for s in happy) / len(happy)
    assert negative_recall >= 0.9, negative_recall
    assert happy_called_negative <= 0.1, happy_called_negative


def test_the_retail_lexicon_improves_on_plain_vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    plain = SentimentIntensityAnalyzer()
    complaints = [t for label, t in labelled() if label == "C"]
    plain_recall = sum(plain.polarity_scores(t)["compound"] <= -0.05 for t in complaints)
    ours = sum(social.sentiment(t) <= -0.05 for t in complaints)
    assert ours >= plain_recall + 0.2 * len(complaints)
    assert plain.polarity_scores("can't pay :(")["compound"] > social.sentiment("can't pay :(")
    assert social.sentiment("can't pay :(") < -0.3


def test_hashtags_name_the_outage():
    found = social.match("day two #TideoverOutage", TERMS)
    assert found.complaint and "#tideoveroutage" in found.matched


def test_configured_terms_replace_the_defaults(db):
    SocialTerm.objects.create(kind="brand", phrase="Harbor Mart")
    SocialTerm.objects.create(kind="outage", phrase="lanes closed")
    terms = social.configured_terms()
    assert terms.brands == ("harbor mart",)
    assert social.match("all lanes closed at Harbor Mart", terms).complaint
    assert not social.match("registers down at Harbor Mart", terms).complaint


@pytest.mark.django_db
def test_ingesting_counts_complaints_once_per_handle_and_keeps_posts_once(settings, chain):
    settings.SOCIAL_BRAND_TERMS = ["tideover"]
    at = datetime(2026, 6, 6, 14, 0, tzinfo=UTC)
    posts = [
        {
            "id": "1",
            "text": "registers down at tideover",
            "handle": "@ann",
            "posted_at": at,
            "place": "S001",
        },
        {
            "id": "2",
            "text": "still can't pay at tideover",
            "handle": "@ann",
            "posted_at": at + timedelta(seconds=20),
        },
        {"id": "3", "text": "tideover card machines down", "handle": "@bob", "posted_at": at},
        {"id": "4", "text": "love tideover", "handle": "@cy", "posted_at": at},
    ]
    results = social.ingest_posts(posts)
    assert [r.complaint for r in results] == [True, True, True, False]
    assert social.ingest_posts(posts[:1])[0].result == "duplicate"
    assert SocialPost.objects.count() == 4
    assert SocialPost.objects.get(external_id="1").store.code == "S001"
    volume = SignalPoint.objects.get(signal__slug="social-complaints", minute=at)
    assert volume.value == 2  # @ann counted once for the outage in this hour


@pytest.mark.django_db
def test_a_post_from_long_ago_is_rejected_with_the_reason_not_stored():
    long_ago = datetime(240, 1, 30, 19, 53, tzinfo=UTC)
    result = social.ingest_posts([{"id": "x", "text": "tideover down", "posted_at": long_ago}])[0]
    assert result.result == "rejected" and "400 days" in result.reason
    assert not SocialPost.objects.exists()
