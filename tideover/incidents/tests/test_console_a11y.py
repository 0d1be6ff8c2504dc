"""Every form control on the console's pages has a label a screen reader can announce."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tideover.core.models import ComponentStatus
from tideover.incidents import services

pytestmark = pytest.mark.django_db


class Controls(HTMLParser):
    """Collects form controls, label targets and the controls wrapped in a label."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.wrapped, self._in_label = [], set(), 0, 0
        self.has_viewport = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("name") == "viewport":
            self.has_viewport = True
        if tag == "label":
            self._in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button"):
                return
            if self._in_label or attrs.get("aria-label") or attrs.get("aria-labelledby"):
                self.wrapped += 1
                return
            self.controls.append(attrs.get("id") or f"<{tag} name={attrs.get('name')}>")

    def handle_endtag(self, tag):
        if tag == "label" and self._in_label:
            self._in_label -= 1


@pytest.fixture
def pages(severities, components, staff):
    incident = services.declare_incident(
        title="Card payments failing",
        severity=severities["SEV1"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        message="Looking into it.",
    )
    done = services.declare_incident(title="Old", severity=severities["SEV3"])
    services.resolve_incident(done)
    return [
        reverse("incidents:dashboard"),
        reverse("incidents:list"),
        reverse("incidents:declare"),
        reverse("incidents:detail", kwargs={"incident_id": incident.pk}),
        reverse("incidents:detail", kwargs={"incident_id": done.pk}),
        reverse("incidents:maintenance"),
        reverse("incidents:schedule_maintenance"),
        reverse("incidents:severities"),
    ]


def test_every_control_on_console_pages_has_a_label(client_as, pages):
    client = client_as("administrator")
    seen = 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        parser = Controls()
        parser.feed(response.content.decode())
        assert parser.has_viewport, f"{url} has no viewport meta: unusable on a phone"
        unlabelled = [c for c in parser.controls if c not in parser.label_for]
        assert not unlabelled, f"{url}: controls without a label: {unlabelled}"
        seen += len(parser.controls) + parser.wrapped
    assert seen > 40  # the check looked at the forms, not at empty pages
