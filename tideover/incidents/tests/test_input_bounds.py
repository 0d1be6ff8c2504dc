"""Input with sane bounds: titles and updates that fit an SMS, a subject line and a dashboard,
dates a person could mean, store codes matched whatever their case."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tideover.core.errors import DomainError
from tideover.incidents import services


def _post(path, body, headers):
    return Client().post(path, json.dumps(body), content_type="application/json", **headers)


def test_a_title_longer_than_a_subject_line_is_refused_with_the_limit(severities):
    with pytest.raises(DomainError, match="keep it to 120") as refused:
        services.declare_incident(title="Registers down " * 10, severity=severities["SEV2"])
    assert refused.value.field == "title"
    services.declare_incident(title="R" * 120, severity=severities["SEV2"])


def test_an_update_longer_than_three_sms_and_a_short_email_is_refused(severities):
    incident = services.declare_incident(title="Tills", severity=severities["SEV3"])
    with pytest.raises(DomainError, match="keep it to 2000"):
        services.post_public_update(incident, "word " * 500)


def test_the_api_states_the_same_limits_in_its_schema(api_token, severities):
    headers = api_token("incidents:write")
    refused = _post("/api/v1/incidents", {"title": "x" * 121, "severity": "SEV3"}, headers)
    assert refused.status_code == 422 and "title" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("field", "offset"),
    [
        ("started_at", timedelta(days=-45)),
        ("started_at", timedelta(hours=2)),
        ("detected_at", timedelta(days=-400)),
    ],
)
def test_the_api_refuses_start_times_long_ago_or_in_the_future(
    api_token, severities, field, offset
):
    body = {"title": "Tills", "severity": "SEV3", field: (timezone.now() + offset).isoformat()}
    response = _post("/api/v1/incidents", body, api_token("incidents:write"))
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert (
        "must be between" in response.json()["detail"]
        or "after it is declared" in (response.json()["detail"])
    )


def test_a_replay_at_its_own_clock_may_still_declare_with_old_times(severities):
    long_ago = timezone.now() - timedelta(days=90)
    incident = services.declare_incident(
        title="Replayed", severity=severities["SEV3"], started_at=long_ago, at=long_ago
    )
    assert incident.started_at == long_ago


@pytest.mark.parametrize(
    ("start", "length", "field"),
    [
        (timedelta(days=-2), timedelta(hours=1), "scheduled_for"),
        (timedelta(days=800), timedelta(hours=1), "scheduled_for"),
        (timedelta(days=1), timedelta(days=30), "scheduled_until"),
    ],
)
def test_maintenance_windows_typed_into_the_api_are_plausible(
    api_token, components, start, length, field
):
    begin = timezone.now() + start
    body = {
        "title": "Upgrade",
        "scheduled_for": begin.isoformat(),
        "scheduled_until": (begin + length).isoformat(),
        "components": ["loyalty"],
    }
    response = _post("/api/v1/maintenance", body, api_token("incidents:write"))
    assert response.status_code == 400 and response.json()["field"] == field


def test_store_codes_are_matched_whatever_their_case(api_token, severities, chain):
    headers = api_token("incidents:write")
    body = {"title": "Tills", "severity": "SEV3", "stores": {"stores": ["s001", "S002"]}}
    response = _post("/api/v1/incidents", body, headers)
    assert response.status_code == 201, response.content
    from tideover.incidents.models import Incident

    incident = Incident.objects.get(pk=response.json()["id"])
    assert sorted(incident.affected_stores.values_list("code", flat=True)) == ["S001", "S002"]
    unknown = _post(
        "/api/v1/incidents",
        {"title": "Tills", "severity": "SEV3", "stores": {"stores": ["s999"]}},
        headers,
    )
    assert unknown.status_code == 400 and "s999" in unknown.json()["detail"]


def test_declare_form_hints_with_real_store_codes_and_accepts_any_case(client_as, chain):
    client = client_as("incident_commander")
    page = client.get("/console/incidents/declare/").content.decode()
    assert "e.g. S001 S002" in page and "S0042" not in page


def test_store_code_hints_match_without_regard_to_zeros_and_refuse_unknown_codes_by_name(
    api_token, severities, chain
):
    headers = api_token("incidents:write")
    body = {"title": "Tills", "severity": "SEV3", "stores": {"stores": ["s1", "S0003"]}}
    response = _post("/api/v1/incidents", body, headers)
    assert response.status_code == 201, response.content
    from tideover.incidents.models import Incident

    incident = Incident.objects.get(pk=response.json()["id"])
    assert sorted(incident.affected_stores.values_list("code", flat=True)) == ["S001", "S003"]
    unknown = _post(
        "/api/v1/incidents",
        {"title": "Tills", "severity": "SEV3", "stores": {"stores": ["S42", "s0042"]}},
        headers,
    )
    assert unknown.status_code == 400
    assert "S42" in unknown.json()["detail"] and "s0042" in unknown.json()["detail"]
