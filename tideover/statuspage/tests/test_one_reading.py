"""A publish renders about a dozen documents from one reading of the database: the questions
they share (components, open incidents, maintenance, the 90-day bars) are asked once."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tideover.statuspage import cache, export, render
from tideover.statuspage import services as publishing
from tideover.statuspage.render import Links

pytestmark = pytest.mark.django_db


def _queries(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured.captured_queries)


def test_a_publish_reads_what_its_documents_share_once(outage, maintenance, settings):
    def separately():
        render.index_page(Links.served())
        render.api_document("summary.json")
        export.export_to(settings.STATUS_EXPORT_DIR)

    publishing.render_and_export()  # an export exists: both keep its unchanged incident pages
    apart = _queries(separately)
    cache.invalidate()  # else the publish finds the export current and does nothing
    together = _queries(lambda: publishing.render_and_export(export_now=True))
    assert together * 2 < apart, f"{together} queries in one reading, {apart} apart"


def test_a_shared_reading_gives_the_same_documents_as_reading_apart(outage, maintenance, settings):
    publishing.render_and_export()
    folder = Path(settings.STATUS_EXPORT_DIR)
    for name in ("summary.json", "incidents.json", "scheduled-maintenances.json"):
        assert (folder / "api" / "v2" / name).read_bytes() == render.api_document(name)
