"""Changing an incident's state or a component's status needs the same capability whichever
endpoint, form or service carries it: "post an update with a state" is no back door.

Expected answers are written out here per role, not read from the capability table."""

import json

import pytest
from django.urls import reverse

from tideover.core.errors import PermissionDenied
from tideover.core.models import Component, ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import Incident, IncidentState

# Who may move an incident's state or set a component's status (DESIGN: commander, admin).
MAY_CHANGE_STATE = {"incident_commander", "administrator"}
ROLES = [
    "store_associate",
    "store_manager",
    "incident_commander",
    "comms",
    "customer_service",
    "cx_manager",
    "administrator",
]


@pytest.fixture
def incident(severities, components, staff):
    return services.declare_incident(
        title="Card payments failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.DEGRADED_PERFORMANCE},
        all_stores=True,
        message="Looking into it.",
        actor=services.Actor.of(staff["incident_commander"]),
    )


def unchanged(incident, components) -> bool:
    incident.refresh_from_db()
    card = Component.objects.get(pk=components["card-payments"].pk)
    return incident.state == IncidentState.INVESTIGATING and card.status == "degraded_performance"


def api(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("role", ROLES)
def test_resolving_through_an_api_update_needs_the_state_right(
    role, incident, components, client_as
):
    client = client_as(role)
    response = api(
        client,
        f"/api/v1/incidents/{incident.pk}/updates",
        {"body": "All fixed.", "state": "resolved"},
    )
    if role in MAY_CHANGE_STATE:
        assert response.status_code == 201, response.content
        incident.refresh_from_db()
        assert incident.state == IncidentState.RESOLVED
    else:
        assert response.status_code == 403, (role, response.content)
        assert "Your role does not allow" in response.json()["detail"]
        assert unchanged(incident, components)


@pytest.mark.parametrize("role", ROLES)
def test_component_status_through_an_api_update_needs_the_component_right(
    role, incident, components, client_as
):
    body = {
        "body": "Worse now.",
        "components": [{"component": "card-payments", "status": "major_outage"}],
    }
    response = api(client_as(role), f"/api/v1/incidents/{incident.pk}/updates", body)
    if role in MAY_CHANGE_STATE:
        assert response.status_code == 201, response.content
        assert Component.objects.get(slug="card-payments").status == "major_outage"
    else:
        assert response.status_code == 403, (role, response.content)
        assert unchanged(incident, components)


@pytest.mark.parametrize("role", ROLES)
def test_every_state_path_answers_the_same_for_each_role(role, incident, components, client_as):
    client = client_as(role)
    paths = [
        lambda: api(client, f"/api/v1/incidents/{incident.pk}/state", {"state": "monitoring"}),
        lambda: client.post(
            reverse("incidents:change_state", kwargs={"incident_id": incident.pk}),
            {"state": "monitoring"},
        ),
        lambda: client.post(
            reverse("incidents:post_update", kwargs={"incident_id": incident.pk}),
            {"body": "Watching it.", "state": "monitoring"},
        ),
    ]
    for number, call in enumerate(paths):
        Incident.objects.filter(pk=incident.pk).update(state=IncidentState.INVESTIGATING)
        response = call()
        allowed = role in MAY_CHANGE_STATE
        assert (response.status_code < 400) == allowed, (role, number, response.status_code)
        incident.refresh_from_db()
        assert (incident.state == IncidentState.MONITORING) == allowed, (role, number)


def test_the_service_itself_refuses_a_person_without_the_right(incident, components, staff):
    comms = services.Actor.of(staff["comms"])
    with pytest.raises(PermissionDenied):
        services.post_public_update(incident, "Fixed.", state="resolved", actor=comms)
    with pytest.raises(PermissionDenied):
        services.post_public_update(
            incident,
            "Worse.",
            components={components["card-payments"]: "major_outage"},
            actor=comms,
        )
    with pytest.raises(PermissionDenied):
        services.resolve_incident(incident, actor=comms)
    with pytest.raises(PermissionDenied):
        services.set_component_status(components["loyalty"], "major_outage", actor=comms)
    assert unchanged(incident, components)
    # Comms still posts plain updates.
    services.post_public_update(incident, "Still looking.", actor=comms)


def test_a_token_with_the_incidents_scope_may_change_state(incident, client, api_token):
    headers = api_token("incidents:write")
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/updates",
        json.dumps({"body": "Fixed.", "state": "resolved"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201


def test_a_closed_incidents_severity_stores_and_roles_change_only_after_a_reopen(
    incident, client_as, severities, api_token
):
    commander = client_as("incident_commander")
    commander.post(reverse("incidents:change_state", args=[incident.pk]), {"state": "resolved"})
    page = commander.post(
        f"/console/incidents/{incident.pk}/settings/",
        {"severity": severities["SEV4"].pk, "scope": "all"},
    )
    assert page.status_code == 409 and "reopen it" in page.content.decode()
    patch = commander.patch(
        f"/api/v1/incidents/{incident.pk}",
        json.dumps({"severity": "SEV4"}),
        content_type="application/json",
    )
    assert patch.status_code == 409 and "reopen it" in patch.json()["detail"]
    incident.refresh_from_db()
    assert incident.severity.name == "SEV2"
