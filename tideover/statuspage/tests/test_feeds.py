"""Atom and RSS feeds, read back with feedparser as a feed reader would."""

import html
from xml.etree import ElementTree

import feedparser
import pytest

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services


@pytest.mark.django_db
def test_atom_feed_lists_updates_newest_first(client, outage, maintenance, drill):
    response = client.get("/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    titles = [entry.title for entry in feed.entries]
    assert titles[0].startswith("Loyalty database upgrade")  # posted last
    assert titles[1] == "Registers cannot reach HQ — Identified"
    assert titles[2] == "Registers cannot reach HQ — Investigating"
    assert not any("DRILL" in title for title in titles)
    published = [entry.published_parsed for entry in feed.entries]
    assert published == sorted(published, reverse=True)
    assert feed.entries[1].link.endswith(
        f"/incidents/{outage.pk}#update-{outage.public_updates.first().pk}"
    )
    assert "network provider" in feed.entries[1].summary


@pytest.mark.django_db
def test_rss_feed_parses_and_follows_new_updates(
    client, outage, django_capture_on_commit_callbacks
):
    feed = feedparser.parse(client.get("/feed.rss").content)
    assert not feed.bozo and feed.version == "rss20"
    assert len(feed.entries) == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_incident(outage, "All registers are back online.")
    run_queued_tasks()  # the publish task; the feed renders on its next read after it
    feed = feedparser.parse(client.get("/feed.rss").content)
    assert feed.entries[0].title == "Registers cannot reach HQ — Resolved"
    assert feed.entries[0].description.startswith("All registers are back online.")


@pytest.mark.django_db
def test_history_feed_aliases_serve_the_same_feed(client, outage):
    assert client.get("/history.atom").content == client.get("/feed.atom").content
    assert client.get("/history.rss").content == client.get("/feed.rss").content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "tag"), [("atom", "{http://www.w3.org/2005/Atom}summary"), ("rss", "description")]
)
def test_feed_summary_is_escaped_for_the_html_type_it_declares(client, severities, kind, tag):
    body = 'Tills show <ERROR 5> & card readers say "retry"; use <b>cash</b>.'
    services.declare_incident(title="Tills", severity=severities["SEV3"], message=body)
    root = ElementTree.fromstring(client.get(f"/feed.{kind}").content)
    summary = next(e for e in root.iter(tag) if "Tills" in (e.text or ""))
    if kind == "atom":
        assert summary.get("type") == "html"
    # The declared type is HTML: no markup of the body takes effect, and it reads back exactly.
    assert "<" not in summary.text
    assert html.unescape(summary.text).split("\n")[0] == body


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/feed.atom", "/feed.rss"])
def test_feeds_stay_well_formed_when_a_title_or_update_holds_a_noncharacter(
    client, severities, path
):
    services.declare_incident(
        title="Tills \uffff down", severity=severities["SEV3"], message="Card readers \ufffe fail"
    )
    entry = ElementTree.fromstring(client.get(path).content)  # raised: not well-formed
    text = "".join(entry.itertext())
    assert "Tills down" in text and "Card readers  fail" in text


@pytest.mark.django_db
def test_feed_writer_drops_what_xml_cannot_carry_from_rows_and_names_saved_before(settings, outage):
    from tideover.incidents.models import Incident, PublicUpdate
    from tideover.statuspage import feeds

    # Rows written before the cleaning rules (straight into the table), and a site name.
    Incident.objects.filter(pk=outage.pk).update(title="Old \ufdd0row \U0001ffff")
    PublicUpdate.objects.filter(incident=outage).update(body="Old\x0c body \uffff")
    settings.SITE_NAME = "Shop\ufffe"
    for kind in ("atom", "rss"):
        document = feeds.build(kind)
        ElementTree.fromstring(document)
        assert "\ufffe".encode() not in document and b"Shop status" in document
