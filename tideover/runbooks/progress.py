"""The commander's view of a plan going out: per store and per team, acknowledged, done, stuck,
and who has been silent too long. A fixed number of queries whatever the number of stores
(one for the checklists, which carry their step counts, one for team steps); see bench/respond.py."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tideover.runbooks.models import Checklist, ChecklistStep


@dataclass
class Progress:
    stores: list[dict] = field(default_factory=list)
    teams: list[dict] = field(default_factory=list)
    regions: list[dict] = field(default_factory=list)
    issued: int = 0
    acknowledged: int = 0
    done: int = 0
    stuck: int = 0
    silent: list[dict] = field(default_factory=list)
    stuck_stores: list[dict] = field(default_factory=list)
    silent_after: int = 0

    @property
    def not_acknowledged(self) -> int:
        return self.issued - self.acknowledged


def progress(incident, *, now: datetime, silent_after_minutes: int) -> Progress:
    """Where the plan in force stands in every store and team."""
    rows = list(
        Checklist.objects.filter(incident=incident, superseded_at__isnull=True)
        .values(
            "pk",
            "team",
            "plan_name",
            "store__code",
            "store__name",
            "store__region__name",
            "issued_at",
            "acknowledged_at",
            "acknowledged_by",
            "done_at",
            "stuck_at",
            "stuck_note",
            "nudged_at",
            "nudges",
            "steps_total",
            "steps_done",
        )
        .order_by("store__code", "team")
    )
    result = Progress(silent_after=silent_after_minutes)
    cutoff = now - timedelta(minutes=silent_after_minutes)
    regions: dict[str, dict] = defaultdict(
        lambda: {"issued": 0, "acknowledged": 0, "done": 0, "stuck": 0}
    )
    team_ids = []
    for row in rows:
        row["is_stuck"] = row["stuck_at"] is not None and row["done_at"] is None
        if row["store__code"] is None:
            team_ids.append(row["pk"])
            result.teams.append(row)
            continue
        row["is_silent"] = row["acknowledged_at"] is None and row["issued_at"] <= cutoff
        row["ack_after"] = (
            row["acknowledged_at"] - row["issued_at"] if row["acknowledged_at"] else None
        )
        result.stores.append(row)
        region = regions[row["store__region__name"]]
        region["issued"] += 1
        result.issued += 1
        if row["acknowledged_at"]:
            region["acknowledged"] += 1
            result.acknowledged += 1
        if row["done_at"]:
            region["done"] += 1
            result.done += 1
        if row["is_stuck"]:
            region["stuck"] += 1
            result.stuck += 1
            result.stuck_stores.append(row)
        if row["is_silent"]:
            result.silent.append(row)
    result.regions = [{"name": name, **counts} for name, counts in sorted(regions.items())]
    steps = defaultdict(list)
    if team_ids:
        for step in ChecklistStep.objects.filter(checklist_id__in=team_ids).order_by("position"):
            steps[step.checklist_id].append(step)
    for team in result.teams:
        team["steps"] = steps[team["pk"]]
    return result
