"""Writes stay cheap: a public change commits with a new cache version only; the static export
is re-rendered by a coalesced task afterwards, and only files that changed are rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
from tideover.statuspage import cache, export
from tideover.statuspage import services as publishing

pytestmark = pytest.mark.django_db


@pytest.fixture
def exports(monkeypatch):
    calls = []
    real = export.export_to

    def counted(folder):
        result = real(folder)
        calls.append(result)
        return result

    monkeypatch.setattr(export, "export_to", counted)
    return calls


def test_an_update_commits_without_rendering_the_export(
    client, outage, exports, django_capture_on_commit_callbacks
):
    client.get("/")
    version = cache.current_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Registers in the north are back.")
    assert exports == [], "the export is not rendered in the commander's request"
    assert cache.current_version() != version
    run_queued_tasks()
    assert len(exports) == 1
    assert "Registers in the north are back." in client.get("/").content.decode()


def test_ten_updates_in_a_burst_render_the_export_once(
    settings, outage, exports, django_capture_on_commit_callbacks
):
    for n in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            services.post_public_update(outage, f"Update number {n}.")
    run_queued_tasks()
    assert len(exports) == 1
    index = (Path(settings.STATUS_EXPORT_DIR) / "index.html").read_text()
    assert "Update number 9." in index


def test_a_publish_that_finds_the_export_current_does_nothing(
    outage, exports, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Still on it.")
    assert publishing.render_and_export()["exported"] is True
    assert publishing.render_and_export() == {"exported": False, "reason": "already current"}
    assert len(exports) == 1


def test_changes_within_the_export_interval_are_served_at_once_and_exported_once_after_it(
    client, outage, exports, django_capture_on_commit_callbacks
):
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Registers in the north are back.")
    publishing.render_and_export()  # what each publish task runs
    assert len(exports) == 1
    for n in range(3):  # more changes before STATUS_EXPORT_INTERVAL_SECONDS have passed
        with django_capture_on_commit_callbacks(execute=True):
            services.post_public_update(outage, f"Update number {n}.")
        publishing.render_and_export()
        assert f"Update number {n}." in client.get("/").content.decode()
    assert len(exports) == 1, "the export waits for the end of its interval"
    run_queued_tasks()  # the queued export (a test does not wait out its delay)
    assert len(exports) == 2
    index = (Path(exports[-1].folder) / "index.html").read_text()
    assert "Update number 2." in index


def test_only_the_pages_that_changed_are_rewritten(outage, severities, tmp_path, time_machine):
    # The clock stands still: the front page says when it was generated, to the minute, and a
    # minute turning between two exports is a real change that rewrites it.
    time_machine.move_to(timezone.now(), tick=False)
    folder = tmp_path / "site"
    first = export.export_to(folder)
    assert first.rewritten == first.files

    def inode(name):
        return (folder / name).stat().st_ino

    outage_page, index = inode(f"incidents/{outage.pk}.html"), inode("index.html")
    services.declare_incident(title="Loyalty points delayed", severity=severities["SEV3"])
    second = export.export_to(folder)
    assert 0 < second.rewritten < second.files
    assert inode(f"incidents/{outage.pk}.html") == outage_page, "unchanged page kept as it was"
    assert inode("index.html") != index, "the changed front page was rewritten"
    assert export.export_to(folder).rewritten == 0


@pytest.fixture
def rendered_incident_pages(monkeypatch):
    """The incident pages the export renders (the real renderer, counted)."""
    from tideover.statuspage import render

    pages = []
    real = render.incident_page

    def counted(pk, *args, **kwargs):
        pages.append(pk)
        return real(pk, *args, **kwargs)

    monkeypatch.setattr(render, "incident_page", counted)
    return pages


@pytest.fixture
def past_incidents(severities):
    past = []
    for i in range(5):
        incident = services.declare_incident(
            title=f"Printer {i} jammed", severity=severities["SEV4"], message="Checking."
        )
        services.resolve_incident(incident, "Fixed.")
        past.append(incident)
    return past


def test_an_update_re_renders_its_incident_page_and_no_other(
    settings,
    outage,
    past_incidents,
    exports,
    rendered_incident_pages,
    django_capture_on_commit_callbacks,
):
    publishing.render_and_export()
    assert sorted(rendered_incident_pages) == sorted([outage.pk, *(p.pk for p in past_incidents)])
    folder = Path(settings.STATUS_EXPORT_DIR)
    past_page = folder / f"incidents/{past_incidents[0].pk}.html"
    before = past_page.stat().st_ino
    rendered_incident_pages.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.post_public_update(outage, "Registers in the north are back.")
    run_queued_tasks()  # the served pages; the export is queued for the end of the interval
    run_queued_tasks()

    assert rendered_incident_pages == [outage.pk], "only the changed incident's page"
    publish = exports[-1]
    # Front page, history, feeds and JSON documents, plus that one incident page.
    assert publish.rendered == publish.files - len(past_incidents)
    assert past_page.stat().st_ino == before, "the unchanged page kept as it was"
    for page in (f"incidents/{outage.pk}.html", "index.html", "api/v2/incidents.json"):
        assert "Registers in the north are back." in (folder / page).read_text()


def test_renaming_a_component_re_renders_the_pages_that_name_it(
    tmp_path, outage, past_incidents, components, rendered_incident_pages
):
    folder = tmp_path / "site"
    export.export_to(folder)
    rendered_incident_pages.clear()
    checkout = components["in-store-checkout"]
    checkout.name = "Tills"
    checkout.save()
    export.export_to(folder)
    assert rendered_incident_pages == [outage.pk]
    assert "Tills" in (folder / f"incidents/{outage.pk}.html").read_text()


def test_a_site_setting_or_a_lost_manifest_re_renders_every_page(
    settings, tmp_path, outage, past_incidents, rendered_incident_pages
):
    folder = tmp_path / "site"
    export.export_to(folder)
    everything = sorted(rendered_incident_pages)
    rendered_incident_pages.clear()
    assert export.export_to(folder).rendered < export.export_to(folder).files
    assert rendered_incident_pages == []

    settings.SITE_NAME = "Harbour Foods"
    export.export_to(folder)
    assert sorted(rendered_incident_pages) == everything
    assert "Harbour Foods" in (folder / f"incidents/{past_incidents[0].pk}.html").read_text()

    rendered_incident_pages.clear()
    (tmp_path / ".site.pages.json").unlink()
    export.export_to(folder)
    assert sorted(rendered_incident_pages) == everything
