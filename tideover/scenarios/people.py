"""The people on shift during a replay: the commander declares, comms keep the public updated on
cadence, the commander resolves. Every act goes through the incident services, with the
scenario's time, so the timeline, status page and messages show the day as it happened."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from tideover.core.models import Component, Store
from tideover.incidents import services as incidents
from tideover.incidents.models import Incident, Severity
from tideover.scenarios.schema import Scenario


class Shift:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        User = get_user_model()
        self.commander = User.objects.filter(username=scenario.staff.commander).first()
        self.comms = User.objects.filter(username=scenario.staff.comms_lead).first()
        self.incident: Incident | None = None
        self.last_update_at: datetime | None = None
        self.declared_at: datetime | None = None
        self.resolved = False
        self.posted: set[int] = set()  # the scripted updates posted, by their place in the file

    def _actor(self, user):
        return incidents.Actor.of(user) if user else incidents.SYSTEM

    def declare(
        self, at: datetime, *, started_at: datetime, detected_at: datetime, stores: list[Store]
    ) -> Incident:
        """The commander declares: severity, components with their status, affected stores,
        the first public update."""
        scenario = self.scenario
        components = {c.slug: c for c in Component.objects.all()}
        chosen = {}
        for failure in scenario.failures:
            if failure.component not in components:
                raise RuntimeError(f"no component {failure.component!r} in this chain")
            chosen[components[failure.component]] = failure.status.value
        self.incident = incidents.declare_incident(
            title=scenario.staff.title,
            severity=Severity.objects.get(level=scenario.staff.severity),
            components=chosen,
            stores=stores,
            message=scenario.staff.first_update,
            commander=self.commander,
            comms_lead=self.comms,
            started_at=started_at,
            detected_at=detected_at,
            actor=self._actor(self.commander),
            at=at,
        )
        self.last_update_at = self.declared_at = at
        return self.incident

    def declare_from_alert(self, alert, at: datetime, *, stores: list[Store]) -> Incident:
        """One click on the alert's draft incident, then the commander sets what the draft
        could only guess: each failing component's status and the affected stores."""
        from tideover.detect.services import declare_from_alert

        scenario = self.scenario
        actor = self._actor(self.commander)
        self.incident = declare_from_alert(
            alert,
            severity=Severity.objects.get(level=scenario.staff.severity),
            title=scenario.staff.title,
            message=scenario.staff.first_update,
            actor=actor,
            at=at,
        )
        components = {c.slug: c for c in Component.objects.all()}
        for failure in scenario.failures:
            incidents.set_component_status(
                components[failure.component],
                failure.status.value,
                incident=self.incident,
                actor=actor,
                at=at,
            )
        incidents.set_store_scope(self.incident, stores=stores, actor=actor, at=at)
        incidents.assign_roles(
            self.incident, commander=self.commander, comms_lead=self.comms, actor=actor, at=at
        )
        self.last_update_at = self.declared_at = at
        return self.incident

    def keep_updating(self, at: datetime, offset: timedelta) -> None:
        """Comms post every scripted update whose time has come and is not posted yet, in
        order (two in one minute are both posted; one timed before the declaration right after
        it, as nothing can be posted on an incident not declared yet), and a holding update
        whenever the cadence would otherwise be missed."""
        staff = self.scenario.staff
        scripted = sorted(
            (u.at, i)
            for i, u in enumerate(staff.updates)
            if i not in self.posted and u.at <= offset
        )
        for _, i in scripted:
            self._post(staff.updates[i].text, staff.updates[i].state, at)
            self.posted.add(i)
        if scripted or at - self.last_update_at < staff.update_every:
            return
        minutes = int(staff.update_every.total_seconds() // 60)
        self._post(
            f"We are still working on this: {staff.title}. Next update within {minutes} minutes.",
            None,
            at,
        )

    def _post(self, text: str, state: str | None, at: datetime) -> None:
        # Comms posts the updates; one that moves the state is the commander's (the role table
        # says comms may not change state, whichever form carries it).
        person = self.commander if state else self.comms
        incidents.post_public_update(
            self.incident, text, state=state, actor=self._actor(person), at=at
        )
        self.last_update_at = at

    def resolve(self, at: datetime) -> None:
        incidents.resolve_incident(
            self.incident, self.scenario.staff.resolution, actor=self._actor(self.commander), at=at
        )
        self.resolved = True
