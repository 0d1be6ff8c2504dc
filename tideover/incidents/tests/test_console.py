"""The staff console's incident pages, through Django's test client."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tideover.core.models import ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import (
    Incident,
    IncidentState,
    PublicUpdate,
    Severity,
    TimelineEvent,
    TimelineKind,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sev2(severities, components, staff):
    return services.declare_incident(
        title="Card payments slow",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.DEGRADED_PERFORMANCE},
        all_stores=True,
        message="We are looking into slow card payments.",
        actor=services.Actor.of(staff["incident_commander"]),
    )


def _declare_data(severities, components, **extra):
    data = {
        "title": "Registers cannot reach HQ",
        "severity": severities["SEV1"].pk,
        f"component_{components['in-store-checkout'].pk}": ComponentStatus.MAJOR_OUTAGE,
        "scope": "regions",
        "regions": [],
        "message": "Registers in the north cannot reach HQ; stores keep selling offline.",
    }
    data.update(extra)
    return data


def test_commander_declares_sev1_from_the_console(client_as, severities, components, chain, staff):
    client = client_as("incident_commander")
    assert client.get(reverse("incidents:declare")).status_code == 200
    data = _declare_data(
        severities,
        components,
        regions=[chain["regions"]["north"].pk],
        comms_lead=staff["comms"].pk,
    )
    response = client.post(reverse("incidents:declare"), data)
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:detail", kwargs={"incident_id": incident.pk})
    assert incident.severity.name == "SEV1"
    assert incident.commander == staff["incident_commander"]
    assert incident.comms_lead == staff["comms"]
    assert list(incident.affected_regions.all()) == [chain["regions"]["north"]]
    assert incident.public_updates.count() == 1
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.MAJOR_OUTAGE
    page = client.get(response["Location"])
    assert b"Registers cannot reach HQ" in page.content
    assert b"Declared SEV1" in page.content  # the timeline, with author
    assert b"by incident_commander" in page.content


def test_declaring_by_store_codes_names_unknown_codes(client_as, severities, components, chain):
    client = client_as("incident_commander")
    data = _declare_data(severities, components, scope="list", store_codes="S001, S999 S998")
    response = client.post(reverse("incidents:declare"), data)
    assert response.status_code == 400
    assert b"No store with code(s): S998, S999" in response.content
    assert not Incident.objects.exists()
    data["store_codes"] = "S001 S003"
    assert client.post(reverse("incidents:declare"), data).status_code == 302
    assert {s.code for s in Incident.objects.get().affected_stores.all()} == {"S001", "S003"}


def test_invalid_declare_form_shows_errors_and_saves_nothing(client_as, severities, components):
    client = client_as("incident_commander")
    data = _declare_data(severities, components, title="", scope="regions", regions=[])
    response = client.post(reverse("incidents:declare"), data)
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert b"Tick at least one region" in response.content
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.OPERATIONAL


def test_service_refusal_comes_back_as_a_form_error_not_a_500(client_as, severities, components):
    client = client_as("incident_commander")
    later = (timezone.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    data = _declare_data(severities, components, scope="all", started_at=later)
    response = client.post(reverse("incidents:declare"), data)
    assert response.status_code == 400
    assert b"cannot start after it is declared" in response.content
    assert not Incident.objects.exists()


def test_comms_can_post_update_but_not_declare(client_as, sev2, severities, components):
    client = client_as("comms")
    assert client.get(reverse("incidents:declare")).status_code == 403
    assert client.post(reverse("incidents:declare"), {"title": "x"}).status_code == 403
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    response = client.post(url, {"body": "Card payments are slow in every store; cash works."})
    assert response.status_code == 302
    latest = sev2.public_updates.first()
    assert latest.author_name == "comms" and latest.state == sev2.state
    state_url = reverse("incidents:change_state", kwargs={"incident_id": sev2.pk})
    assert client.post(state_url, {"state": "resolved"}).status_code == 403


def test_comms_cannot_move_state_or_components_through_an_update(client_as, sev2, components):
    client = client_as("comms")
    page = client.get(reverse("incidents:detail", kwargs={"incident_id": sev2.pk})).content
    assert b'name="state"' not in page.split(b'id="update"')[1].split(b"</form>")[0]
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    before = sev2.public_updates.count()
    for sneaked in (
        {"state": IncidentState.RESOLVED},
        {f"component_{components['card-payments'].pk}": ComponentStatus.MAJOR_OUTAGE},
    ):
        response = client.post(url, {"body": "All fixed.", **sneaked})
        assert response.status_code == 403, sneaked
    sev2.refresh_from_db()
    components["card-payments"].refresh_from_db()
    assert sev2.state == IncidentState.INVESTIGATING and sev2.is_open
    assert components["card-payments"].status != ComponentStatus.MAJOR_OUTAGE
    assert sev2.public_updates.count() == before


def test_commander_moves_state_and_components_with_an_update(client_as, sev2, components):
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    response = client_as("incident_commander").post(
        url,
        {
            "body": "Card payments are slow in every store; cash works.",
            "state": IncidentState.IDENTIFIED,
            f"component_{components['card-payments'].pk}": ComponentStatus.PARTIAL_OUTAGE,
        },
    )
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert sev2.state == IncidentState.IDENTIFIED
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.PARTIAL_OUTAGE


def test_store_associate_sees_dashboard_but_cannot_declare(client_as, sev2):
    client = client_as("store_associate")
    page = client.get(reverse("incidents:dashboard"))
    assert page.status_code == 200
    assert b"Card payments slow" in page.content
    assert b"Declare an incident" not in page.content
    assert client.get(reverse("incidents:declare")).status_code == 403
    detail = client.get(reverse("incidents:detail", kwargs={"incident_id": sev2.pk}))
    assert detail.status_code == 200
    assert b"Post public update" not in detail.content
    assert b"Resolve incident" not in detail.content


def test_overdue_incident_is_red_on_dashboard(client_as, severities):
    t0 = timezone.now() - timedelta(minutes=40)
    services.declare_incident(
        title="Checkout down", severity=severities["SEV1"], message="Looking.", at=t0
    )
    services.declare_incident(title="App slow", severity=severities["SEV3"], message="Looking.")
    page = client_as("store_manager").get(reverse("incidents:dashboard"))
    html = page.content.decode()
    assert "1 incident overdue for a public update" in html
    assert 'class="card overdue"' in html
    # SEV1 is due every 15 minutes: 40 minutes after the last update it is 25 minutes late.
    assert "OVERDUE by 25 min" in html
    assert html.index("Checkout down") < html.index("App slow")  # most severe first


def test_update_form_errors_keep_the_text_and_save_nothing(client_as, sev2):
    client = client_as("incident_commander")
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    response = client.post(url, {"body": "   ", "state": "no-such-state"})
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert sev2.public_updates.count() == 1


def test_internal_note_with_talking_points_is_on_the_timeline(client_as, sev2):
    client = client_as("comms")
    url = reverse("incidents:add_note", kwargs={"incident_id": sev2.pk})
    response = client.post(
        url,
        {"body": "Processor says 30 minutes.", "talking_points": "Say: cash works. Not: ETA."},
    )
    assert response.status_code == 302
    note = sev2.timeline.get(kind=TimelineKind.INTERNAL_NOTE)
    assert note.author_name == "comms"
    page = client.get(reverse("incidents:detail", kwargs={"incident_id": sev2.pk}))
    assert b"Talking points:" in page.content and b"Say: cash works." in page.content


def test_commander_resolves_and_reopens(client_as, sev2, components):
    client = client_as("incident_commander")
    state_url = reverse("incidents:change_state", kwargs={"incident_id": sev2.pk})
    response = client.post(state_url, {"state": "resolved", "message": "Payments are back."})
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert sev2.state == IncidentState.RESOLVED
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.OPERATIONAL
    page = client.get(reverse("incidents:detail", kwargs={"incident_id": sev2.pk}))
    assert b"Time to resolve" in page.content and b"Reopen incident" in page.content
    # Resolving twice is refused with the service's words, not a 500.
    again = client.post(state_url, {"state": "resolved"})
    assert again.status_code == 400
    reopen_url = reverse("incidents:reopen", kwargs={"incident_id": sev2.pk})
    assert client.post(reopen_url, {"reason": "", "state": "identified"}).status_code == 400
    response = client.post(reopen_url, {"reason": "Slow again.", "state": "identified"})
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert sev2.state == IncidentState.IDENTIFIED and sev2.resolved_at is None


def test_posting_to_a_resolved_incident_is_a_conflict_shown_on_the_page(client_as, sev2):
    services.resolve_incident(sev2)
    client = client_as("comms")
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    response = client.post(url, {"body": "Still slow?"})
    assert response.status_code == 409
    assert b"reopen it before posting an update" in response.content
    assert PublicUpdate.objects.filter(incident=sev2).count() == 1


def test_settings_change_severity_roles_and_stores_together(client_as, sev2, staff, severities):
    client = client_as("incident_commander")
    url = reverse("incidents:update_settings", kwargs={"incident_id": sev2.pk})
    response = client.post(
        url,
        {
            "severity": severities["SEV1"].pk,
            "commander": staff["administrator"].pk,
            "comms_lead": staff["comms"].pk,
            "scope": "list",
            "store_codes": "S002",
        },
    )
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert sev2.severity.name == "SEV1"
    assert sev2.commander == staff["administrator"] and sev2.comms_lead == staff["comms"]
    assert [s.code for s in sev2.affected_stores.all()] == ["S002"]
    assert not sev2.affects_all_stores
    kinds = set(sev2.timeline.values_list("kind", flat=True))
    assert {TimelineKind.SEVERITY, TimelineKind.ROLES} <= kinds


def test_component_status_controls_on_incident_and_dashboard(client_as, sev2, components):
    client = client_as("incident_commander")
    url = reverse("incidents:set_component", kwargs={"incident_id": sev2.pk})
    response = client.post(
        url, {"component": components["mobile-app"].pk, "status": "partial_outage"}
    )
    assert response.status_code == 302
    assert sev2.affected_components.filter(component=components["mobile-app"]).exists()
    dash_url = reverse("incidents:component_status", kwargs={"slug": "loyalty"})
    assert client.post(dash_url, {"status": "degraded_performance"}).status_code == 302
    components["loyalty"].refresh_from_db()
    assert components["loyalty"].status == ComponentStatus.DEGRADED_PERFORMANCE
    bad = client.post(dash_url, {"status": "on_fire"})
    assert bad.status_code == 400 and b"Choose a status" in bad.content
    assert client_as("comms").post(dash_url, {"status": "operational"}).status_code == 403


def test_drill_shows_a_banner_and_leaves_public_status_alone(client_as, severities, components):
    client = client_as("incident_commander")
    data = _declare_data(severities, components, scope="all", is_drill="on")
    response = client.post(reverse("incidents:declare"), data)
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert b"DRILL" in page.content
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.OPERATIONAL


def test_incident_list_filters_open_and_resolved(client_as, sev2, severities):
    done = services.declare_incident(title="Old outage", severity=severities["SEV3"])
    services.resolve_incident(done)
    client = client_as("customer_service")
    open_page = client.get(reverse("incidents:list"))
    assert b"Card payments slow" in open_page.content and b"Old outage" not in open_page.content
    resolved = client.get(reverse("incidents:list"), {"status": "resolved"})
    assert b"Old outage" in resolved.content and b"Card payments slow" not in resolved.content
    found = client.get(reverse("incidents:list"), {"status": "all", "q": "old"})
    assert b"Old outage" in found.content


def test_maintenance_is_scheduled_started_and_completed(client_as, components):
    client = client_as("incident_commander")
    start = timezone.now() + timedelta(days=1)
    data = {
        "title": "Loyalty system upgrade",
        "scheduled_for": start.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_until": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "components": [components["loyalty"].pk],
        "scope": "all",
    }
    bad = client.post(
        reverse("incidents:schedule_maintenance"),
        {**data, "scheduled_until": data["scheduled_for"]},
    )
    assert bad.status_code == 400 and b"must end after it starts" in bad.content
    response = client.post(reverse("incidents:schedule_maintenance"), data)
    assert response.status_code == 302
    window = Incident.objects.maintenances().get()
    assert b"Loyalty system upgrade" in client.get(reverse("incidents:maintenance")).content
    kwargs = {"incident_id": window.pk}
    assert client.post(reverse("incidents:start_maintenance", kwargs=kwargs)).status_code == 302
    components["loyalty"].refresh_from_db()
    assert components["loyalty"].status == ComponentStatus.UNDER_MAINTENANCE
    assert client.post(reverse("incidents:complete_maintenance", kwargs=kwargs)).status_code == 302
    window.refresh_from_db()
    assert window.state == IncidentState.COMPLETED


def test_administrator_edits_cadence_and_others_only_read_it(client_as, severities):
    sev3 = severities["SEV3"]
    url = reverse("incidents:edit_severity", kwargs={"severity_id": sev3.pk})
    prefix = f"sev{sev3.pk}-"
    data = {prefix + "description": "Degraded", prefix + "impact": "minor"}
    assert client_as("incident_commander").post(url, {**data}).status_code == 403
    page = client_as("incident_commander").get(reverse("incidents:severities"))
    assert page.status_code == 200 and b"Edit SEV3" not in page.content
    admin = client_as("administrator")
    bad = admin.post(url, {**data, prefix + "update_cadence_minutes": "0"})
    assert bad.status_code == 400 and b"between 1 and 1440" in bad.content
    ok = admin.post(url, {**data, prefix + "update_cadence_minutes": "20"})
    assert ok.status_code == 302
    assert Severity.objects.get(pk=sev3.pk).update_cadence_minutes == 20


def test_nav_shows_only_links_the_role_may_follow(client_as, severities):
    comms = client_as("comms").get(reverse("incidents:dashboard")).content.decode()
    assert 'href="/console/incidents/"' in comms
    assert 'href="/console/incidents/declare/"' not in comms
    commander = client_as("incident_commander").get(reverse("incidents:dashboard")).content
    assert b'href="/console/incidents/declare/"' in commander


def test_dashboard_queries_do_not_grow_with_incidents(
    client_as, severities, components, django_assert_max_num_queries
):
    client = client_as("incident_commander")
    for n in range(8):
        services.declare_incident(
            title=f"Outage {n}",
            severity=severities["SEV2"],
            components={components["mobile-app"]: ComponentStatus.PARTIAL_OUTAGE},
        )
    with django_assert_max_num_queries(20):
        assert client.get(reverse("incidents:dashboard")).status_code == 200


def test_incident_page_queries_do_not_grow_with_the_timeline(
    client_as, sev2, django_assert_max_num_queries
):
    for n in range(15):
        services.add_internal_note(sev2, f"Note {n}", talking_points="Say: cash works.")
        services.post_public_update(sev2, f"Update {n}")
    client = client_as("administrator")
    url = reverse("incidents:detail", kwargs={"incident_id": sev2.pk})
    with django_assert_max_num_queries(30):
        page = client.get(url)
    assert page.status_code == 200 and b"Update 14" in page.content


def test_associate_sees_which_incidents_touch_their_store(client_as, severities, chain):
    services.declare_incident(
        title="North registers offline",
        severity=severities["SEV2"],
        regions=[chain["regions"]["north"]],
    )
    services.declare_incident(
        title="South card terminals", severity=severities["SEV3"], stores=[chain["stores"]["S003"]]
    )
    html = client_as("store_associate").get(reverse("incidents:dashboard")).content.decode()
    assert "Your store: <strong>S001 Store S001</strong>" in html
    north = html[
        html.index("North registers offline") - 400 : html.index("North registers offline")
    ]
    south = html[html.index("South card terminals") - 400 : html.index("South card terminals")]
    assert "Your store</span>" in north and "Your store</span>" not in south
    hq = client_as("incident_commander").get(reverse("incidents:dashboard")).content.decode()
    assert "Your store" not in hq


def test_changes_without_the_csrf_token_are_refused(staff, sev2):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["incident_commander"])
    url = reverse("incidents:post_update", kwargs={"incident_id": sev2.pk})
    assert client.post(url, {"body": "Forged update"}).status_code == 403
    assert not sev2.public_updates.filter(body="Forged update").exists()


def test_update_form_offers_a_preview_on_every_channel_before_sending(
    client_as, severities, components
):
    incident = services.declare_incident(title="Card terminals slow", severity=severities["SEV2"])
    client = client_as("comms")
    page = client.get(
        reverse("incidents:detail", kwargs={"incident_id": incident.pk})
    ).content.decode()
    preview_url = reverse("notifications:preview", kwargs={"incident_id": incident.pk})
    assert f'formaction="{preview_url}"' in page
    response = client.post(
        preview_url, {"body": "Card payments are slow in some stores.", "state": "identified"}
    )
    assert response.status_code == 200
    assert "Card payments are slow in some stores." in response.content.decode()
    assert not incident.public_updates.exists()  # a preview sends nothing
