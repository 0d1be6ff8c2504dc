"""Detect in a replayed outage: the alert comes first, the incident is declared from it."""

from __future__ import annotations

from datetime import timedelta

from tideover.detect import replay
from tideover.detect.models import Alert, AlertState
from tideover.scenarios.chain import prepare_chain
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.runner import ScenarioRunner
from tideover.scenarios.tests.test_run import SMALL


def test_replayed_outage_alerts_before_the_declaration_and_links_the_incident(
    db, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    scenario = parse_scenario(SMALL)
    prepare_chain(scenario)
    runner = ScenarioRunner(scenario)  # watches with Detect when it is installed
    runner.run()
    alert = Alert.objects.filter(paged=True).order_by("opened_at").first()
    assert alert is not None
    incident = runner.shift.incident
    assert alert.opened_at - runner.start <= timedelta(minutes=4)
    assert incident.detected_at <= alert.opened_at < incident.declared_at
    alert.refresh_from_db()
    assert alert.state == AlertState.INCIDENT and alert.incident == incident
    assert {s.slug for s in alert.signals.all()} >= {"heartbeat-coverage"}
    assert "Detect: alert" in replay.summary()
