"""Django's admin as administrators use it: stores and staff, severities, tokens."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tideover.core.models import ApiToken, StaffProfile
from tideover.core.services import create_api_token
from tideover.incidents import services
from tideover.incidents.models import Severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    user = staff["administrator"]
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


def test_token_page_never_shows_the_secret_or_its_hash(admin_client):
    token, secret = create_api_token(name="Store S001 agent", scopes=["sales:write"])
    listing = admin_client.get(reverse("admin:core_apitoken_changelist")).content.decode()
    page = admin_client.get(reverse("admin:core_apitoken_change", args=[token.pk]))
    for html in (listing, page.content.decode()):
        assert "Store S001 agent" in html
        assert secret not in html and token.hashed_secret not in html
    assert admin_client.get(reverse("admin:core_apitoken_add")).status_code == 403


def test_administrator_revokes_tokens_from_the_admin(admin_client, api_token):
    token, secret = create_api_token(name="Old agent", scopes=["incidents:read"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert admin_client.get("/api/v1/components", **headers).status_code == 200
    response = admin_client.post(
        reverse("admin:core_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    from django.test import Client

    assert Client().get("/api/v1/components", **headers).status_code == 401


def test_administrator_edits_cadence_in_the_admin(admin_client, severities):
    sev2 = severities["SEV2"]
    url = reverse("admin:incidents_severity_change", args=[sev2.pk])
    response = admin_client.post(
        url,
        {
            "level": 2,
            "name": "SEV2",
            "description": "Key function down",
            "update_cadence_minutes": 20,
            "impact": "major",
        },
    )
    assert response.status_code == 302
    assert Severity.objects.get(pk=sev2.pk).update_cadence_minutes == 20


def test_user_page_has_the_store_profile_inline(admin_client, staff, chain):
    user = staff["store_manager"]
    page = admin_client.get(reverse("admin:auth_user_change", args=[user.pk]))
    assert page.status_code == 200
    assert b'name="staff_profile-0-store"' in page.content
    assert b'name="staff_profile-0-mobile_e164"' in page.content
    assert StaffProfile.objects.get(user=user).store == chain["stores"]["S001"]


def test_incident_is_read_only_in_the_admin_with_its_timeline(admin_client, severities):
    incident = services.declare_incident(
        title="Web checkout errors", severity=severities["SEV2"], message="Looking."
    )
    page = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Declared SEV2: Web checkout errors" in html
    assert reverse("incidents:detail", kwargs={"incident_id": incident.pk}) in html
    response = admin_client.post(
        reverse("admin:incidents_incident_change", args=[incident.pk]), {"title": "Changed"}
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Web checkout errors"


def test_staff_flag_without_the_administrator_role_does_not_open_the_admin(client, staff):
    user = staff["incident_commander"]
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 302
    root = get_user_model().objects.create_superuser("root", "", "pw-for-tests-only")
    client.force_login(root)
    assert client.get(reverse("admin:index")).status_code == 200
