"""The replay's scorecard on the incident it produced."""

from __future__ import annotations

from tideover.core.roles import Capability, has_capability
from tideover.scenarios.models import ScenarioRun
from tideover.scenarios.report import rows


def scorecard_panel(request, incident) -> dict | None:
    if not has_capability(request.user, Capability.VIEW_CONSOLE):
        return None
    run = ScenarioRun.objects.filter(incident=incident).first()
    if run is None:
        return None
    card = run.scorecard
    if "recovery" in card:  # messages keep being delivered and codes redeemed after the replay
        from tideover.scenarios.recover import recovery_section

        card = dict(card, recovery={**card["recovery"], **recovery_section(incident)})
    return {"run": run, "rows": rows(card)}
