"""Triage: search, link to an incident (on its timeline), answer, acted on, CSV export, drills
kept apart, the per-person limit."""

from __future__ import annotations

import csv
import io

import pytest

from tideover.core.actors import Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import ComponentStatus
from tideover.frontline import services
from tideover.frontline.models import Report
from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent


@pytest.fixture
def reports(chain, staff):
    made = []
    for code, text, category in (
        ("S001", "Register 2 frozen", "registers"),
        ("S002", "Contactless declined twice", "card-payments"),
        ("S003", "=HYPERLINK('x') customers angry", "customers-upset"),
    ):
        made.append(
            services.submit_report(
                kind="problem",
                category=category,
                text=text,
                store=chain["stores"][code],
                reporter=staff["store_associate"],
            )
        )
    return made


def test_triage_searches_by_text_store_and_state(reports, client_as):
    client = client_as("customer_service")
    page = client.get("/console/reports/", {"q": "frozen"}).content.decode()
    assert "Register 2 frozen" in page and "Contactless" not in page
    page = client.get("/console/reports/", {"store": "s002"}).content.decode()
    assert "Contactless" in page and "frozen" not in page
    services.answer(reports[0], "Fixed")
    page = client.get("/console/reports/", {"state": "answered"}).content.decode()
    assert "frozen" in page and "Contactless" not in page
    assert client_as("store_associate").get("/console/reports/").status_code == 403


def test_linking_answering_and_acting_on_a_report(reports, severities, components, client_as):
    incident = incidents.declare_incident(
        title="Cards failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
    )
    report = reports[1]
    client = client_as("comms")
    assert (
        client.post(f"/console/reports/{report.pk}/link/", {"incident": incident.pk}).status_code
        == 302
    )
    assert client.post(f"/console/reports/{report.pk}/answer/", {"answer": ""}).status_code == 400
    assert (
        client.post(
            f"/console/reports/{report.pk}/answer/", {"answer": "Processor fixed"}
        ).status_code
        == 302
    )
    assert client.post(f"/console/reports/{report.pk}/acted-on/").status_code == 302
    report.refresh_from_db()
    assert report.incident == incident and report.answer == "Processor fixed"
    assert report.answered_by == "comms" and report.state == "acted_on"
    assert TimelineEvent.objects.filter(
        incident=incident, kind="signal", body__contains="Contactless declined twice"
    ).exists()
    page = client.get(f"/console/reports/incidents/{incident.pk}/").content.decode()
    assert "Contactless" in page and "frozen" not in page


def test_export_is_csv_without_names_and_with_formulas_defused(reports, client_as):
    response = client_as("incident_commander").get("/console/reports/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["id", "created_at", "kind", "category"]
    assert len(rows) == 4
    texts = [row[6] for row in rows[1:]]
    assert "'=HYPERLINK('x') customers angry" in texts
    assert "store_associate" not in response.content.decode()


def test_a_drill_report_stays_a_drill_and_publishes_nothing(severities, components, chain, staff):
    from tideover.core import events

    heard = []

    def handler(name, **payload):
        heard.append(payload)

    events.subscribe("frontline.problem_reported", handler)
    try:
        drill = incidents.declare_incident(
            title="Drill: registers offline",
            severity=severities["SEV1"],
            components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
            all_stores=True,
            is_drill=True,
        )
        report = services.submit_report(
            kind="problem",
            category="registers",
            text="Drill: till 1 down",
            store=chain["stores"]["S001"],
            reporter=staff["store_associate"],
        )
        assert report.is_drill and heard == []
        real = incidents.declare_incident(
            title="Real",
            severity=severities["SEV2"],
            components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
            all_stores=True,
        )
        with pytest.raises(DomainError, match="drill report goes with a drill"):
            services.link_to_incident(report, real)
        services.link_to_incident(report, drill)
        services.submit_report(
            kind="problem",
            category="registers",
            text="Real trouble",
            store=chain["stores"]["S001"],
            reporter=staff["store_associate"],
        )
        assert len(heard) == 1 and heard[0]["report"].is_drill is False
    finally:
        events._handlers["frontline.problem_reported"].remove(handler)


def test_one_person_cannot_flood_the_queue(chain, staff, settings):
    settings.FRONTLINE_REPORTS_PER_HOUR = 2
    for n in range(2):
        services.submit_report(
            kind="insight",
            category="other",
            text=f"x{n}",  # the same text again within a minute would be the same report
            store=chain["stores"]["S001"],
            reporter=staff["store_associate"],
        )
    with pytest.raises(Conflict, match="a lot of reports this hour"):
        services.submit_report(
            kind="insight",
            category="other",
            text="x",
            store=chain["stores"]["S001"],
            reporter=staff["store_associate"],
        )
    assert Report.objects.count() == 2
    services.submit_report(
        kind="insight",
        category="other",
        text="x",
        store=chain["stores"]["S001"],
        reporter=staff["store_manager"],
    )


def test_actions_record_who_did_them(reports, staff):
    report = services.mark_acted_on(reports[0], actor=Actor.of(staff["comms"]))
    assert report.acted_on_by == "comms" and report.state == "acted_on"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_reports_sent_at_once_still_stop_at_the_hourly_limit(chain, staff, settings):
    import threading

    from django.db import connection

    settings.FRONTLINE_REPORTS_PER_HOUR = 3
    store, user = chain["stores"]["S001"], staff["store_associate"]
    start = threading.Barrier(8)
    outcomes = []

    def send(i):
        try:
            start.wait()
            services.submit_report(
                kind="problem", category="registers", text=f"Till {i} down", store=store,
                reporter=user,
            )  # fmt: skip
            outcomes.append("sent")
        except DomainError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert Report.objects.count() == 3 and sorted(outcomes).count("sent") == 3, outcomes


def test_a_report_sent_twice_is_one_report_and_one_signal(chain, staff, client_as):
    from tideover.core import events

    seen = []

    def handler(name, **payload):
        seen.append(payload)

    events.subscribe("frontline.problem_reported", handler)
    try:
        client = client_as("store_associate")
        data = {"category": "registers", "text": "Register 3 frozen"}
        first = client.post("/store/S001/report/", data)
        second = client.post("/store/S001/report/", data)
    finally:
        events._handlers["frontline.problem_reported"].remove(handler)
    assert first.status_code == second.status_code == 302
    assert Report.objects.count() == 1 and len(seen) == 1
    # Another problem, or the same words a while later, is a report of its own.
    client.post("/store/S001/report/", {"category": "registers", "text": "Register 4 frozen"})
    assert Report.objects.count() == 2


def test_a_photo_gone_from_disk_answers_404_not_500(chain, staff, client_as, tmp_path, monkeypatch):
    import os

    from django.core.files.storage import FileSystemStorage
    from django.core.files.uploadedfile import SimpleUploadedFile

    storage = FileSystemStorage(location=str(tmp_path), base_url=None)
    monkeypatch.setattr(Report._meta.get_field("photo"), "storage", storage)
    report = services.submit_report(
        kind="problem", category="registers", text="Screen cracked",
        store=chain["stores"]["S001"], reporter=staff["store_associate"],
        photo=SimpleUploadedFile("till.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64),
    )  # fmt: skip
    os.remove(report.photo.path)
    answer = client_as("customer_service").get(f"/console/reports/{report.pk}/photo/")
    assert answer.status_code == 404


def test_a_mistyped_filter_is_refused_not_widened_to_every_store(reports, client_as):
    client = client_as("customer_service")
    assert (
        "S003" not in client.get("/console/reports/export.csv", {"store": "S001"}).content.decode()
    )
    export = client.get("/console/reports/export.csv", {"store": "S001", "state": "opne"})
    assert export.status_code == 400 and "S003" not in export.content.decode()
    assert "fix the filter: State:" in export.content.decode()
    page = client.get("/console/reports/", {"store": "S001", "state": "opne"})
    assert page.status_code == 400 and "S003" not in page.content.decode()
    assert "Select a valid choice" in page.content.decode()


def test_twin_reports_count_once_whichever_takes_the_lock_first(chain, staff):
    """Two taps a moment apart: the one stamped later may be saved first."""
    from datetime import timedelta

    from django.utils import timezone

    first = timezone.now()
    for at in (first + timedelta(milliseconds=50), first):
        services.submit_report(
            kind="problem", category="registers", text="Register 3 frozen",
            store=chain["stores"]["S001"], reporter=staff["store_associate"], at=at,
        )  # fmt: skip
    assert Report.objects.count() == 1


def test_reports_answers_and_stuck_notes_lose_control_and_direction_characters(
    chain, staff, severities, components
):
    """A bidi override (U+202E) or a stray control in what a store writes would reorder or hide
    text on HQ's triage page, the export and the store page; line breaks stay."""
    from tideover.runbooks import checklists
    from tideover.runbooks.models import Checklist

    report = services.submit_report(
        kind="problem",
        category="registers",
        text="Till 4\u202e nezorf\x07\r\nsince noon",
        store=chain["stores"]["S001"],
        reporter=staff["store_associate"],
    )
    assert report.text == "Till 4 nezorf\nsince noon"
    answered = services.answer(report, "On it\u2066 \x1b[31m", actor=Actor.of(staff["comms"]))
    assert answered.answer == "On it [31m"
    with pytest.raises(DomainError):
        services.submit_report(
            kind="problem",
            category="registers",
            text="\u202e\u200f",
            store=chain["stores"]["S001"],
            reporter=staff["store_associate"],
        )
    incident = incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        stores=[chain["stores"]["S001"]],
    )
    checklist = Checklist.objects.get(incident=incident, store__code="S001")
    stuck = checklists.mark_stuck(checklist, "No key\u202e for the safe")
    assert stuck.stuck_note == "No key for the safe"
