"""Two people changing one incident at once, and a refused change: nothing is undone or left
half-written."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tideover.core.models import ComponentStatus
from tideover.core.roles import Role
from tideover.core.services import grant_role
from tideover.incidents import services
from tideover.incidents.models import Incident, TimelineKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(api_token, severities, components, chain):
    return api_token("incidents:write", "incidents:read", name="ops automation")


def _declare_by_api(writer) -> int:
    answer = Client().post(
        "/api/v1/incidents",
        data=json.dumps(
            {"title": "Registers cannot reach HQ", "severity": "SEV3", "message": "Looking."}
        ),
        content_type="application/json",
        **writer,
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


@pytest.mark.parametrize(
    "refused",
    [{"commander": "no-such-person"}, {"stores": {"regions": ["atlantis"]}}],
    ids=["unknown commander", "unknown region"],
)
def test_a_refused_patch_changes_nothing(writer, refused):
    incident_id = _declare_by_api(writer)
    answer = Client().patch(
        f"/api/v1/incidents/{incident_id}",
        data=json.dumps({"severity": "SEV1", **refused}),
        content_type="application/json",
        **writer,
    )
    assert answer.status_code == 400, answer.content
    incident = Incident.objects.get(pk=incident_id)
    assert incident.severity.name == "SEV3"
    assert not incident.timeline.filter(kind=TimelineKind.SEVERITY).exists()


def test_two_role_changes_at_once_both_stick(severities, staff):
    commander = services.Actor.of(staff["incident_commander"])
    incident = services.declare_incident(
        title="Loyalty points late", severity=severities["SEV3"], actor=commander
    )
    seen_by_a = Incident.objects.get(pk=incident.pk)
    seen_by_b = Incident.objects.get(pk=incident.pk)  # read before A's change
    services.assign_roles(seen_by_a, commander=staff["administrator"], actor=commander)
    services.assign_roles(seen_by_b, comms_lead=staff["comms"], actor=commander)
    incident.refresh_from_db()
    assert incident.comms_lead == staff["comms"]
    assert incident.commander == staff["administrator"]


def _settings_form_as_shown(html: str) -> dict:
    form = html[html.index('id="settings-h"') :]
    form = form[: form.index("</form>")]
    data = {}
    for select in re.finditer(r'<select name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(2))
        data[select.group(1)] = chosen.group(1) if chosen else ""
    for hidden in re.finditer(r'<input type="hidden" name="(shown_\w+)" value="([^"]*)"', form):
        data[hidden.group(1)] = hidden.group(2)
    data["scope"] = re.search(r'name="scope" value="(\w+)"[^>]*checked', form).group(1)
    return data


def test_a_second_commanders_save_does_not_undo_the_first(client_as, severities, components, staff):
    incident = services.declare_incident(
        title="Card payments slow",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.DEGRADED_PERFORMANCE},
        all_stores=True,
        message="We are looking into slow card payments.",
        actor=services.Actor.of(staff["incident_commander"]),
    )
    other = get_user_model().objects.create_user("commander_b", "", "pw")
    grant_role(other, Role.INCIDENT_COMMANDER)
    b = Client()
    b.force_login(other)
    a = client_as("incident_commander")
    detail = reverse("incidents:detail", kwargs={"incident_id": incident.pk})
    url = reverse("incidents:update_settings", kwargs={"incident_id": incident.pk})
    b_form = _settings_form_as_shown(b.get(detail).content.decode())  # B opens the page
    a_form = _settings_form_as_shown(a.get(detail).content.decode())
    # A raises the severity and narrows the stores; then B, who only picks a comms lead, saves.
    changed = {"severity": severities["SEV1"].pk, "scope": "list", "store_codes": "S002"}
    assert a.post(url, {**a_form, **changed}).status_code == 302
    assert b.post(url, {**b_form, "comms_lead": staff["comms"].pk}).status_code == 302
    incident.refresh_from_db()
    assert incident.comms_lead == staff["comms"]
    assert incident.severity.name == "SEV1"
    assert [s.code for s in incident.affected_stores.all()] == ["S002"]
    # What B did change still applies.
    assert b.post(url, {**b_form, "severity": severities["SEV3"].pk}).status_code == 302
    incident.refresh_from_db()
    assert incident.severity.name == "SEV3"


def _declare_with_times(writer, **times):
    body = {
        "title": "Registers cannot reach HQ",
        "severity": "SEV2",
        **{k: v.isoformat() for k, v in times.items()},
    }
    return Client().post(
        "/api/v1/incidents", data=json.dumps(body), content_type="application/json", **writer
    )


def test_detected_before_it_started_is_refused(writer):
    now = timezone.now()
    answer = _declare_with_times(
        writer, started_at=now - timedelta(minutes=10), detected_at=now - timedelta(minutes=70)
    )
    assert answer.status_code == 400 and answer.json()["field"] == "detected_at"
    assert not Incident.objects.exists()


def test_detected_after_it_was_declared_is_refused(writer):
    answer = _declare_with_times(writer, detected_at=timezone.now() + timedelta(minutes=4))
    assert answer.status_code == 400 and answer.json()["field"] == "detected_at"
    assert not Incident.objects.exists()
