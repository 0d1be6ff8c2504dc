"""The page is served from a cache of pre-rendered bytes that every public change invalidates."""

import pytest

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
from tideover.statuspage import cache
from tideover.statuspage.services import publish_changes


@pytest.mark.django_db
def test_page_is_served_from_cache_and_a_new_update_replaces_it_once_published(
    client, outage, django_assert_num_queries, django_capture_on_commit_callbacks
):
    first = client.get("/")
    assert first.status_code == 200
    with django_assert_num_queries(0):
        again = client.get("/")
    assert again.content == first.content
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Registers in the north are selling again.")
    assert client.get("/").content == first.content, "the publish task renders it, not a reader"
    run_queued_tasks()
    fresh = client.get("/").content.decode()
    assert "Registers in the north are selling again." in fresh


@pytest.mark.django_db
def test_every_public_document_is_answered_from_cache_without_database(
    client, outage, django_assert_num_queries
):
    paths = ["/", "/history", f"/incidents/{outage.pk}", "/feed.atom", "/feed.rss"]
    paths += ["/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json"]
    for path in paths:
        client.get(path)
    with django_assert_num_queries(0):
        for path in paths:
            assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_conditional_get_answers_304_with_validators(client, outage):
    first = client.get("/api/v2/summary.json")
    assert first["ETag"].startswith('"') and first["Last-Modified"]
    assert first["Cache-Control"] == "public, no-cache"
    again = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    since = client.get("/api/v2/summary.json", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304
    other = client.get("/api/v2/summary.json", HTTP_IF_NONE_MATCH='"something-else"')
    assert other.status_code == 200


@pytest.mark.django_db
def test_head_request_has_headers_and_no_body(client, outage):
    response = client.head("/")
    assert response.status_code == 200 and response.content == b""
    assert int(response["Content-Length"]) > 1000


@pytest.mark.django_db
def test_rolled_back_change_leaves_the_cache_alone(client, outage, severities):
    from django.db import transaction

    client.get("/")
    version = cache.current_version()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.post_public_update(outage, "This never happened.")
            raise RuntimeError("abort")
    assert cache.current_version() == version
    assert "This never happened." not in client.get("/").content.decode()


@pytest.mark.django_db
def test_internal_notes_and_drills_do_not_invalidate(
    outage, severities, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.add_internal_note(outage, "Vendor ticket 4411 opened.")
        services.declare_incident(
            title="Drill", severity=severities["SEV2"], message="practice", is_drill=True
        )
    assert publish_changes not in callbacks
    with django_capture_on_commit_callbacks() as callbacks:
        services.post_public_update(outage, "Still working on it.", state="monitoring")
    # one publish per transaction however many events it raised
    assert callbacks.count(publish_changes) == 1


@pytest.mark.django_db
def test_file_cache_version_change_by_another_process_is_seen_at_once(settings, tmp_path):
    from django.core.cache.backends.filebased import FileBasedCache

    location = str(tmp_path / "shared-cache")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": location,
        }
    }
    first = cache.current_version()
    assert cache.current_version() == first  # answered from the stat() probe
    other_process = FileBasedCache(location, {})
    other_process.set(cache.VERSION_KEY, "set-by-another-worker", timeout=None)
    assert cache.current_version() == "set-by-another-worker"
    assert cache.invalidate() == cache.current_version()


@pytest.mark.django_db
def test_gzip_is_served_to_clients_that_accept_it_with_its_own_etag(client, outage):
    import gzip

    plain = client.get("/")
    packed = client.get("/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and packed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content) / 3
    assert packed["ETag"] != plain["ETag"]
    again = client.get("/", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert again.status_code == 304
    small = client.get("/api/v2/status.json", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in small  # not worth compressing


def test_cache_key_rolls_over_at_midnight_in_the_page_time_zone(settings, monkeypatch):
    import time as real_time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "America/Chicago"
    before = datetime(2026, 3, 10, 23, 59, 59, tzinfo=ZoneInfo("America/Chicago")).timestamp()
    monkeypatch.setattr(real_time, "time", lambda: before)
    assert cache._key("v1", "index.html") == "statuspage:v1:2026-03-10:index.html"
    monkeypatch.setattr(real_time, "time", lambda: before + 2)
    assert cache._key("v1", "index.html") == "statuspage:v1:2026-03-11:index.html"


@pytest.mark.django_db
def test_component_renamed_in_the_admin_shows_once_published(
    client, components, django_capture_on_commit_callbacks
):
    client.get("/")
    checkout = components["in-store-checkout"]
    checkout.name = "Registers and tills"
    with django_capture_on_commit_callbacks(execute=True):
        checkout.save()
    run_queued_tasks()
    assert "Registers and tills" in client.get("/").content.decode()


@pytest.mark.django_db
def test_a_service_transaction_publishes_once_despite_many_saves(
    outage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.post_public_update(outage, "Update with a state change.", state="monitoring")
    assert callbacks.count(publish_changes) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip;q=0, identity", False),
        ("*;q=0", False),
        ("*", True),
        ("br, *;q=0.5", True),
        ("gzip;q=0, *", False),
        ("GZIP;Q=0.3", True),
        ("gzip;q=nonsense", False),
    ],
)
def test_gzip_only_for_clients_whose_accept_encoding_gives_it_a_weight(
    client, outage, header, gzipped
):
    page = client.get("/", HTTP_ACCEPT_ENCODING=header)
    assert (page.get("Content-Encoding") == "gzip") is gzipped
