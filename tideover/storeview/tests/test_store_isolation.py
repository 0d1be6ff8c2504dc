"""One store's associates and managers never act for another store: every store-page POST
(acknowledge, stuck, tick, problem and customer reports, shopper capture) answers 404 for
another store's staff and changes nothing, whether the URL names the other store or names their
own store with the other store's checklist or step. A neighbour's POST is tried only after the
owner's own staff did the same thing successfully, so the refusal is not the form's doing."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.test import Client

from tideover.core.models import ComponentStatus, StaffProfile
from tideover.core.roles import Role
from tideover.core.services import grant_role
from tideover.frontline.models import Report
from tideover.incidents import services as incidents
from tideover.runbooks.models import Checklist

NEIGHBOURS = ("associate_s002", "manager_s002")


@pytest.fixture
def outage(severities, components, chain):
    """Both S001 and S002 are hit, so each has its own checklist."""
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
        message="Our stores are open and registers keep selling.",
    )


@pytest.fixture
def people(staff, chain, django_user_model):
    manager = django_user_model.objects.create_user("manager_s002", "", "pw-for-tests-only")
    grant_role(manager, Role.STORE_MANAGER)
    StaffProfile.objects.create(user=manager, store=chain["stores"]["S002"])

    def client(name):
        logged_in = Client()
        logged_in.force_login(manager if name == "manager_s002" else staff[name])
        return logged_in

    return client


def _s001_checklist(outage):
    return Checklist.objects.get(incident=outage, store__code="S001")


def _state(checklist):
    checklist.refresh_from_db()
    steps = [(s.done_at, s.done_by) for s in checklist.steps.order_by("pk")]
    return checklist.acknowledged_by, checklist.stuck_note, steps


def _neighbours_post_to_s001s_checklist(outage, people, url_store: str):
    """Every neighbour posts acknowledge, stuck and tick for S001's checklist under
    /store/<url_store>/: each is not found, and the checklist is as it was."""
    checklist = _s001_checklist(outage)
    step = checklist.steps.order_by("pk").first()
    before = _state(checklist)
    for name in NEIGHBOURS:
        client = people(name)
        for url, data in (
            (f"/store/{url_store}/checklists/{checklist.pk}/ack/", {}),
            (f"/store/{url_store}/checklists/{checklist.pk}/stuck/", {"note": "No float"}),
            (f"/store/{url_store}/steps/{step.pk}/", {"done": "1"}),
        ):
            assert client.post(url, data).status_code == 404, (name, url)
    assert _state(checklist) == before
    return checklist, step, before


def test_another_stores_staff_cannot_acknowledge_tick_or_say_stuck_for_a_store(outage, people):
    checklist, step, before = _neighbours_post_to_s001s_checklist(outage, people, "S001")
    # The same posts from the store's own staff do change it.
    own = people("store_associate")
    assert own.post(f"/store/S001/checklists/{checklist.pk}/ack/").status_code == 302
    assert own.post(f"/store/S001/steps/{step.pk}/", {"done": "1"}).status_code == 302
    assert _state(checklist) != before


def test_own_store_page_with_another_stores_checklist_or_step_is_not_found(outage, people):
    _neighbours_post_to_s001s_checklist(outage, people, "S002")


def test_another_stores_staff_cannot_report_for_a_store(outage, people):
    body = {"category": "registers", "text": "Register 3 shows a red screen"}
    for name in NEIGHBOURS:
        for url in ("/store/S001/report/", "/store/S001/customers/"):
            assert people(name).post(url, body).status_code == 404, (name, url)
            assert people(name).get(url).status_code == 404, (name, url)
    assert not Report.objects.exists()
    assert people("manager_s002").post("/store/S002/report/", body).status_code == 302
    assert Report.objects.get().store.code == "S002"


@pytest.mark.skipif(not apps.is_installed("tideover.recovery"), reason="recovery not installed")
def test_another_stores_staff_cannot_sign_shoppers_up_for_a_store(outage, people):
    from tideover.recovery.models import AffectedCustomer

    shopper = {"name": "Ada", "phone": "+1 512 555 0150", "consent": "on"}
    for name in NEIGHBOURS:
        client = people(name)
        assert client.post("/recover/store/S001/capture/", shopper).status_code == 404, name
        assert client.get("/recover/store/S001/capture/").status_code == 404, name
        assert client.get("/recover/store/S001/qr.svg").status_code == 404, name
    assert not AffectedCustomer.objects.exists()
    own = people("store_associate").post("/recover/store/S001/capture/", shopper)
    assert own.status_code == 302
    assert AffectedCustomer.objects.get().store.code == "S001"
