"""The JSON documents match the field names of Atlassian Statuspage's public v2 API."""

import pytest

from tideover.core.models import Component, ComponentStatus
from tideover.incidents import services

PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_FIELDS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_FIELDS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
}


def get_json(client, path):
    response = client.get(f"/api/v2/{path}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.django_db
def test_summary_json_matches_statuspage_shape(client, outage, maintenance):
    summary = get_json(client, "summary.json")
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert set(summary["page"]) >= PAGE_FIELDS
    assert summary["page"]["time_zone"] == "UTC"
    assert summary["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert [c["name"] for c in summary["components"]][:2] == ["In-store checkout", "Card payments"]
    for component in summary["components"]:
        assert set(component) >= COMPONENT_FIELDS
        assert isinstance(component["id"], str)
        assert component["page_id"] == summary["page"]["id"]
    checkout = summary["components"][0]
    assert checkout["status"] == "major_outage" and checkout["position"] == 0
    (incident,) = summary["incidents"]
    assert set(incident) >= INCIDENT_FIELDS
    assert incident["id"] == str(outage.pk)
    assert incident["status"] == "identified" and incident["impact"] == "critical"
    assert incident["shortlink"].endswith(f"/incidents/{outage.pk}")
    assert [c["name"] for c in incident["components"]] == ["In-store checkout"]
    updates = incident["incident_updates"]
    assert [u["status"] for u in updates] == ["identified", "investigating"]  # newest first
    for update in updates:
        assert set(update) >= UPDATE_FIELDS
        assert update["incident_id"] == incident["id"]
    assert updates[1]["affected_components"] == [
        {
            "code": "in-store-checkout",
            "name": "In-store checkout",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    (window,) = summary["scheduled_maintenances"]
    assert window["status"] == "scheduled" and window["impact"] == "maintenance"
    assert window["scheduled_for"] == maintenance.scheduled_for.isoformat()
    assert window["scheduled_until"] == maintenance.scheduled_until.isoformat()


@pytest.mark.django_db
def test_status_json_says_all_operational_when_nothing_is_wrong(client, components):
    document = get_json(client, "status.json")
    assert set(document) == {"page", "status"}
    assert document["status"] == {"indicator": "none", "description": "All Systems Operational"}


@pytest.mark.django_db
def test_status_indicator_follows_component_status_without_incident(client, components):
    services.set_component_status(components["online-checkout"], ComponentStatus.PARTIAL_OUTAGE)
    assert get_json(client, "status.json")["status"]["indicator"] == "minor"


@pytest.mark.django_db
def test_components_json_lists_public_components_in_position_order(client, components):
    Component.objects.create(name="Back-office ETL", slug="etl", position=9, is_public=False)
    document = get_json(client, "components.json")
    assert set(document) == {"page", "components"}
    names = [c["name"] for c in document["components"]]
    assert names == [c.name for c in components.values()]


@pytest.mark.django_db
def test_incidents_and_unresolved_json(client, outage, severities, components):
    old = services.declare_incident(
        title="Web checkout slow", severity=severities["SEV3"], message="Looking into it."
    )
    services.resolve_incident(old, "Fixed.")
    every = get_json(client, "incidents.json")["incidents"]
    assert {i["name"] for i in every} == {"Registers cannot reach HQ", "Web checkout slow"}
    resolved = next(i for i in every if i["name"] == "Web checkout slow")
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    unresolved = get_json(client, "incidents/unresolved.json")["incidents"]
    assert [i["name"] for i in unresolved] == ["Registers cannot reach HQ"]


@pytest.mark.django_db
def test_scheduled_maintenances_json_upcoming_and_active(client, maintenance):
    every = get_json(client, "scheduled-maintenances.json")["scheduled_maintenances"]
    assert [m["name"] for m in every] == ["Loyalty database upgrade"]
    assert {"scheduled_for", "scheduled_until"} <= set(every[0])
    assert (
        len(get_json(client, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"]) == 1
    )
    assert get_json(client, "scheduled-maintenances/active.json")["scheduled_maintenances"] == []


@pytest.mark.django_db
def test_drill_incidents_never_appear_publicly(client, drill, outage):
    for path in (
        "summary.json",
        "incidents.json",
        "incidents/unresolved.json",
        "components.json",
    ):
        body = client.get(f"/api/v2/{path}").content.decode()
        assert "DRILL" not in body, path
    summary = get_json(client, "summary.json")
    cards = next(c for c in summary["components"] if c["name"] == "Card payments")
    assert cards["status"] == "operational"
    for path in ("/", "/history", "/feed.atom", "/feed.rss"):
        assert "DRILL" not in client.get(path).content.decode(), path
    assert client.get(f"/incidents/{drill.pk}").status_code == 404


@pytest.mark.django_db
def test_json_documents_take_a_bounded_number_of_queries(
    client, outage, maintenance, severities, django_assert_max_num_queries
):
    for n in range(5):
        services.declare_incident(
            title=f"Store {n} printer down", severity=severities["SEV4"], message="Checking."
        )
    with django_assert_max_num_queries(12):
        assert client.get("/api/v2/summary.json").status_code == 200
