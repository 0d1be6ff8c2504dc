"""The associate's store page: own store only, the plan and its talking points, ticking,
acknowledging, saying we're stuck, reporting, and HQ's answer coming back."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tideover.core import events
from tideover.core.models import ComponentStatus
from tideover.frontline import services as frontline
from tideover.frontline.models import Report
from tideover.incidents import services as incidents
from tideover.runbooks.models import Checklist


@pytest.fixture
def outage(severities, components, chain):
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
        message="Our stores are open and registers keep selling.",
    )


@pytest.fixture
def heard():
    """Every frontline.problem_reported event published during the test."""
    seen = []

    def handler(name, **payload):
        seen.append(payload)

    events.subscribe("frontline.problem_reported", handler)
    yield seen
    events._handlers["frontline.problem_reported"].remove(handler)


def test_associate_sees_the_incident_the_plan_and_what_to_say(outage, client_as):
    page = client_as("store_associate").get("/store/S001/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Registers cannot reach HQ" in text
    assert "Our stores are open and registers keep selling." in text  # what customers are told
    assert "Plan B: Keep selling on offline registers" in text
    assert "Your points and e-receipt will arrive later today" in text  # say
    assert "Anything about a hack or a data breach" in text  # don't say
    assert "<script" not in text  # works with JavaScript off


def test_the_shopper_sign_up_shows_when_recover_is_installed(outage, client_as):
    from django.apps import apps

    text = client_as("store_associate").get("/store/S001/").content.decode()
    if apps.is_installed("tideover.recovery"):
        assert 'href="/recover/store/S001/capture/"' in text
        assert 'src="/recover/store/S001/qr.svg"' in text
    else:
        assert "Sign up a shopper" not in text


def test_a_store_outside_the_incident_is_all_clear(outage, client_as, staff):
    from tideover.core.models import StaffProfile, Store

    StaffProfile.objects.filter(user=staff["store_manager"]).update(
        store=Store.objects.get(code="S003")
    )
    page = client_as("store_manager").get("/store/S003/")
    assert "All clear" in page.content.decode()


def test_associates_cannot_open_another_stores_page(outage, client_as):
    assert client_as("associate_s002").get("/store/S001/").status_code == 404
    assert client_as("associate_s002").get("/store/S002/").status_code == 200
    assert client_as("incident_commander").get("/store/S001/").status_code == 200


def test_ticking_on_the_store_page_records_who_and_returns_to_the_step(outage, client_as):
    checklist = Checklist.objects.get(incident=outage, store__code="S001")
    step = checklist.steps.first()
    client = client_as("store_associate")
    response = client.post(f"/store/S001/steps/{step.pk}/", {"done": "1"})
    assert response.status_code == 302 and response["Location"].endswith(f"#step-{step.pk}")
    step.refresh_from_db()
    assert step.done_by == "store_associate"
    other = client_as("associate_s002").post(f"/store/S001/steps/{step.pk}/", {"done": "0"})
    assert other.status_code == 404
    step.refresh_from_db()
    assert step.done_at is not None


def test_acknowledging_and_saying_we_are_stuck(outage, client_as):
    checklist = Checklist.objects.get(incident=outage, store__code="S002")
    client = client_as("associate_s002")
    assert client.post(f"/store/S002/checklists/{checklist.pk}/ack/").status_code == 302
    refused = client.post(f"/store/S002/checklists/{checklist.pk}/stuck/", {"note": ""})
    assert refused.status_code == 400
    client.post(f"/store/S002/checklists/{checklist.pk}/stuck/", {"note": "No cash float left"})
    checklist.refresh_from_db()
    assert checklist.acknowledged_by == "associate_s002"
    assert checklist.stuck_note == "No cash float left"


def test_a_problem_report_publishes_the_contract_event_and_hq_answer_comes_back(
    outage, client_as, staff, heard
):
    client = client_as("store_associate")
    assert client.get("/store/S001/report/").status_code == 200
    response = client.post(
        "/store/S001/report/",
        {"category": "registers", "text": "Register 3 shows a red screen"},
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.kind == "problem" and report.store.code == "S001"
    [payload] = heard
    sent = payload["report"]
    assert sent.store.code == "S001" and sent.category == "registers"
    assert sent.created_at == report.created_at
    assert sent.reporter_key == frontline.reporter_key(staff["store_associate"])
    assert sent.reporter_key != frontline.reporter_key(staff["store_manager"])
    assert "store_associate" not in sent.reporter_key
    frontline.answer(report, "We restarted the store link; register 3 is back.")
    page = client.get("/store/S001/").content.decode()
    assert "Register 3 shows a red screen" in page
    assert "We restarted the store link; register 3 is back." in page


def test_what_customers_say_is_an_insight_not_a_problem_signal(outage, client_as, heard):
    response = client_as("store_associate").post(
        "/store/S001/customers/",
        {"category": "customers-asking", "text": "Everyone asks if their points are lost"},
    )
    assert response.status_code == 302
    assert Report.objects.get().kind == "insight"
    assert heard == []


def test_a_report_with_a_file_that_is_not_a_photo_is_refused(outage, client_as, tmp_path, settings):
    settings.FRONTLINE_UPLOAD_DIR = str(tmp_path)
    client = client_as("store_associate")
    bad = SimpleUploadedFile("x.jpg", b"MZ\x90\x00 not a picture", content_type="image/jpeg")
    response = client.post(
        "/store/S001/report/", {"category": "other", "text": "see", "photo": bad}
    )
    assert response.status_code == 400
    assert "Send a photo" in response.content.decode()
    assert not Report.objects.exists()
    good = SimpleUploadedFile("p.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    assert (
        client.post(
            "/store/S001/report/", {"category": "other", "text": "see", "photo": good}
        ).status_code
        == 302
    )
    assert Report.objects.get().photo


def test_an_empty_report_is_refused_with_what_to_fix(outage, client_as):
    response = client_as("store_associate").post(
        "/store/S001/report/", {"category": "registers", "text": " "}
    )
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_cs_roles_cannot_report_for_a_store(outage, client_as):
    assert (
        client_as("customer_service")
        .post("/store/S001/report/", {"category": "registers", "text": "x"})
        .status_code
        == 403
    )
