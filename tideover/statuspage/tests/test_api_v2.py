"""The JSON documents match the field names of Atlassian Statuspage's public v2 API."""

import re
from datetime import UTC, datetime, timedelta

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
    "start_date",
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


MAINTENANCE_FIELDS = INCIDENT_FIELDS | {"scheduled_for", "scheduled_until"}
# Every document of the public API and the keys it holds (Statuspage's v2 reference).
DOCUMENT_KEYS = {
    "summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
    "status.json": {"page", "status"},
    "components.json": {"page", "components"},
    "incidents.json": {"page", "incidents"},
    "incidents/unresolved.json": {"page", "incidents"},
    "scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
TIME_KEYS = {"scheduled_for", "scheduled_until"}
ONE_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def parse(value):
    return datetime.strptime(value, TIME_FORMAT)


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
    assert parse(window["scheduled_for"]) == maintenance.scheduled_for.replace(
        microsecond=maintenance.scheduled_for.microsecond // 1000 * 1000
    )
    assert parse(window["scheduled_until"]) == maintenance.scheduled_until.replace(
        microsecond=maintenance.scheduled_until.microsecond // 1000 * 1000
    )


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


def _walk(value, path="$"):
    """Every (path, key, value) pair in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _walk(item, f"{path}[{n}]")


@pytest.mark.django_db
def test_every_timestamp_of_every_document_has_milliseconds_and_an_offset(
    client, severities, components
):
    # Whole seconds are the case a plain isoformat() writes without a fraction.
    whole = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    incident = services.declare_incident(
        title="Card terminals offline",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.PARTIAL_OUTAGE},
        message="Investigating.",
        at=whole,
    )
    services.post_public_update(
        incident, "Fix applied.", state="monitoring", at=whole + timedelta(minutes=5)
    )
    services.resolve_incident(incident, "Resolved.", at=whole + timedelta(minutes=30))
    services.declare_incident(
        title="Web shop slow", severity=severities["SEV3"], message="Looking."
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    services.schedule_maintenance(
        title="Loyalty upgrade",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["loyalty"]],
        message="Points will post late.",
    )
    checked = 0
    for name, keys in DOCUMENT_KEYS.items():
        document = get_json(client, name)
        assert set(document) == keys, name
        for path, key, value in _walk(document):
            if (key.endswith("_at") or key in TIME_KEYS) and value is not None:
                parsed = parse(value)
                assert parsed.utcoffset() is not None, (name, path, key, value)
                assert ONE_FORM.fullmatch(value), (name, path, key, value)
                checked += 1
    assert checked > 50
    resolved = next(
        i for i in get_json(client, "incidents.json")["incidents"] if i["id"] == str(incident.pk)
    )
    assert resolved["created_at"] == "2026-12-04T07:00:00.000Z"
    assert resolved["resolved_at"] == "2026-12-04T07:30:00.000Z"
    window = get_json(client, "scheduled-maintenances.json")["scheduled_maintenances"][0]
    assert set(window) >= MAINTENANCE_FIELDS
    assert parse(window["scheduled_for"]) == start
    assert window["started_at"].endswith("Z")


@pytest.mark.django_db
def test_each_document_holds_the_statuspage_fields_at_every_level(client, outage, maintenance):
    expected = {
        "page": PAGE_FIELDS,
        "components": COMPONENT_FIELDS,
        "incidents": INCIDENT_FIELDS,
        "scheduled_maintenances": MAINTENANCE_FIELDS,
        "incident_updates": UPDATE_FIELDS,
        "status": {"indicator", "description"},
    }
    seen = set()
    for name in DOCUMENT_KEYS:
        for path, key, value in _walk(get_json(client, name)):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if key in expected and isinstance(item, dict):
                    assert set(item) >= expected[key], (name, path, key)
                    seen.add(key)
    assert seen == set(expected)
