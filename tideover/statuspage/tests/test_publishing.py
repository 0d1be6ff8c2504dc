"""Writes stay cheap: a public change commits with a new cache version only; the static export
is re-rendered by a coalesced task afterwards, and only files that changed are rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert "Registers in the north are back." in client.get("/").content.decode()
    run_queued_tasks()
    assert len(exports) == 1


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


def test_only_the_pages_that_changed_are_rewritten(outage, severities, tmp_path):
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
