import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tideover.core.models import ApiToken
from tideover.incidents import services
from tideover.incidents.models import Incident


def post(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def writer(api_token, severities, components, chain):
    return api_token("incidents:write", "incidents:read", name="ops automation")


DECLARE = {
    "title": "Registers cannot reach HQ",
    "severity": "SEV1",
    "components": [{"component": "in-store-checkout", "status": "major_outage"}],
    "stores": {"regions": ["north"]},
    "message": "We are investigating.",
}


def test_token_declares_incident_and_timeline_names_the_token(writer):
    response = post(Client(), "/api/v1/incidents", DECLARE, **writer)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["severity"] == "SEV1" and body["impact"] == "critical"
    assert body["components"] == [
        {"slug": "in-store-checkout", "name": "In-store checkout", "status": "major_outage"}
    ]
    assert body["updates"][0]["body"] == "We are investigating."
    assert body["time_to_first_update_seconds"] == 0
    incident = Incident.objects.get(pk=body["id"])
    assert incident.timeline.first().author_name == "token:ops automation"


def test_post_update_change_state_and_resolve_through_api(writer):
    incident_id = post(Client(), "/api/v1/incidents", DECLARE, **writer).json()["id"]
    r = post(
        Client(),
        f"/api/v1/incidents/{incident_id}/updates",
        {"body": "Cause found.", "state": "identified"},
        **writer,
    )
    assert r.status_code == 201 and r.json()["state"] == "identified"
    r = post(
        Client(),
        f"/api/v1/incidents/{incident_id}/state",
        {"state": "resolved", "message": "All fixed."},
        **writer,
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    assert r.json()["time_to_resolve_seconds"] is not None
    r = post(Client(), f"/api/v1/incidents/{incident_id}/updates", {"body": "More?"}, **writer)
    assert r.status_code == 409 and "reopen" in r.json()["detail"]
    r = post(
        Client(),
        f"/api/v1/incidents/{incident_id}/reopen",
        {"reason": "Back again in two stores."},
        **writer,
    )
    assert r.status_code == 200 and r.json()["state"] == "investigating"


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"severity": "SEV9"}, 400, "Unknown severity"),
        ({"title": ""}, 422, "title"),
        (
            {"components": [{"component": "teleporter", "status": "major_outage"}]},
            400,
            "No component",
        ),
        ({"components": [{"component": "in-store-checkout", "status": "on_fire"}]}, 422, "status"),
        ({"stores": {"stores": ["S999"]}}, 400, "S999"),
        ({"commander": "nobody"}, 400, "nobody"),
        ({"started_at": "yesterday-ish"}, 422, "started_at"),
        ({"started_at": "0001-01-01T00:00:00+05:00"}, 422, "between the years"),
        ({"started_at": "9999-12-31T23:59:59Z"}, 422, "between the years"),
        ({"detected_at": "2026-11-21T14:03:00"}, 422, "time zone"),
        ({"severity": "²"}, 400, "Unknown severity"),
        ({"components": [{"component": "²", "status": "major_outage"}]}, 400, "No component"),
    ],
)
def test_invalid_declarations_get_a_4xx_that_says_what_to_fix(writer, change, status, fragment):
    response = post(Client(), "/api/v1/incidents", {**DECLARE, **change}, **writer)
    assert response.status_code == status, response.content
    assert fragment in response.json()["detail"]
    assert not Incident.objects.exists()


def test_malformed_json_is_a_4xx_not_a_500(writer):
    response = Client().post(
        "/api/v1/incidents", data="{not json", content_type="application/json", **writer
    )
    assert 400 <= response.status_code < 500


def test_missing_or_revoked_token_is_refused(writer, api_token):
    assert Client().get("/api/v1/incidents").status_code == 401
    assert (
        Client().get("/api/v1/incidents", HTTP_AUTHORIZATION="Bearer tdo_nope_nope").status_code
        == 401
    )
    ApiToken.objects.update(revoked_at=timezone.now())
    assert Client().get("/api/v1/incidents", **writer).status_code == 401


def test_read_only_token_cannot_declare(api_token, severities):
    reader = api_token("incidents:read")
    response = post(Client(), "/api/v1/incidents", DECLARE, **reader)
    assert response.status_code == 403 and "incidents:write" in response.json()["detail"]


def test_tokens_are_stored_hashed(api_token):
    headers = api_token("incidents:read")
    secret = headers["HTTP_AUTHORIZATION"].split()[1]
    token = ApiToken.objects.get()
    assert secret not in (token.hashed_secret, token.prefix) and len(token.hashed_secret) == 64
    assert secret.startswith(f"tdo_{token.prefix}_")


def test_overdue_incident_is_flagged_in_the_api(writer, severities):
    t0 = timezone.now() - timedelta(minutes=40)
    services.declare_incident(
        title="Quiet too long", severity=severities["SEV1"], message="Looking.", at=t0
    )
    body = Client().get("/api/v1/incidents?open=true", **writer).json()
    assert body[0]["update_overdue"] is True


def test_staff_session_uses_roles_and_csrf(client_as, severities, components):
    comms = client_as("comms")
    assert comms.get("/api/v1/incidents").status_code == 200
    assert post(comms, "/api/v1/incidents", DECLARE).status_code == 403
    commander = Client(enforce_csrf_checks=True)
    commander.force_login(get_user_model().objects.get(username="incident_commander"))
    assert post(commander, "/api/v1/incidents", DECLARE).status_code in (401, 403)  # no CSRF token
    assert not Incident.objects.exists()


def test_component_status_can_be_set_on_its_own(writer, components):
    r = post(
        Client(),
        "/api/v1/components/card-payments/status",
        {"status": "degraded_performance"},
        **writer,
    )
    assert r.status_code == 200 and r.json()["status"] == "degraded_performance"
    r = post(
        Client(), "/api/v1/components/nope/status", {"status": "degraded_performance"}, **writer
    )
    assert r.status_code == 404


def test_maintenance_can_be_scheduled_through_the_api(writer):
    start = timezone.now() + timedelta(days=1)
    body = {
        "title": "Terminal firmware",
        "components": ["card-payments"],
        "message": "Tonight.",
        "scheduled_for": start.isoformat(),
        "scheduled_until": (start + timedelta(hours=2)).isoformat(),
    }
    r = post(Client(), "/api/v1/maintenance", body, **writer)
    assert r.status_code == 201 and r.json()["state"] == "scheduled"
    body["scheduled_until"] = body["scheduled_for"]
    assert post(Client(), "/api/v1/maintenance", body, **writer).status_code == 400


def test_openapi_document_is_served():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/incidents" in paths and "/api/v1/incidents/{incident_id}/updates" in paths


@pytest.mark.parametrize(
    ("field", "username", "fragment"),
    [
        ("commander", "store_associate", "cannot be the incident commander"),
        ("commander", "outsider", "cannot be the incident commander"),
        ("comms_lead", "customer_service", "cannot be the comms lead"),
    ],
)
def test_api_refuses_a_commander_or_comms_lead_without_the_role(
    writer, staff, field, username, fragment
):
    response = post(Client(), "/api/v1/incidents", {**DECLARE, field: username}, **writer)
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"] and username in response.json()["detail"]
    assert not Incident.objects.exists()
    declared = post(Client(), "/api/v1/incidents", DECLARE, **writer).json()
    response = Client().patch(
        f"/api/v1/incidents/{declared['id']}",
        data=json.dumps({"severity": "SEV2", field: username}),
        content_type="application/json",
        **writer,
    )
    assert response.status_code == 400, response.content
    incident = Incident.objects.get(pk=declared["id"])
    assert incident.severity.name == "SEV1" and getattr(incident, field) is None


def test_api_names_a_commander_and_comms_lead_who_hold_the_roles(writer, staff):
    body = {**DECLARE, "commander": "incident_commander", "comms_lead": "comms"}
    response = post(Client(), "/api/v1/incidents", body, **writer)
    assert response.status_code == 201, response.content
    assert response.json()["commander"] == "incident_commander"
    assert response.json()["comms_lead"] == "comms"


def test_services_refuse_a_commander_without_the_role(writer, staff, severities):
    from tideover.core.errors import DomainError

    incident = services.declare_incident(title="Tills slow", severity=severities["SEV3"])
    with pytest.raises(DomainError, match="store_manager cannot be the incident commander"):
        services.assign_roles(incident, commander=staff["store_manager"])
    incident.refresh_from_db()
    assert incident.commander is None


def test_naming_again_a_commander_who_lost_the_role_does_not_refuse_the_other_change(
    staff, severities
):
    incident = services.declare_incident(
        title="Tills slow", severity=severities["SEV3"], commander=staff["incident_commander"]
    )
    staff["incident_commander"].groups.clear()
    former = get_user_model().objects.get(pk=staff["incident_commander"].pk)
    services.assign_roles(incident, commander=former, comms_lead=staff["comms"])
    incident.refresh_from_db()
    assert incident.commander == former and incident.comms_lead == staff["comms"]
