"""Cadence reminders: when a public update is overdue, tell the commander and the comms lead,
once per overdue period, and say so on the timeline."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from tideover.notifications.models import CadenceReminder, Category, OutboxMessage


def _contacts(user) -> list[tuple[str, str]]:
    found = []
    if user is None:
        return found
    if user.email:
        found.append(("email", user.email))
    profile = getattr(user, "staff_profile", None)
    if profile is not None and profile.mobile_e164:
        found.append(("sms", profile.mobile_e164))
    return found


def send_cadence_reminders(now=None) -> int:
    """Remind for every overdue incident not yet reminded this period; returns reminders sent."""
    from tideover.incidents.models import TimelineKind
    from tideover.incidents.services import overdue_incidents, record_timeline_event

    now = now or timezone.now()
    sent = 0
    for incident in overdue_incidents(now):
        due = incident.next_update_due_at()
        cadence = incident.severity.cadence
        period = int((now - due) / cadence)
        try:
            with transaction.atomic():
                CadenceReminder.objects.create(incident=incident, due_at=due, period=period)
                late = int((now - due).total_seconds() // 60) + int(cadence.total_seconds() // 60)
                drill = "[DRILL] " if incident.is_drill else ""
                subject = f"{drill}Public update overdue: {incident.title}"
                body = (
                    f"{drill}No public update for {late} minutes on '{incident.title}' "
                    f"({incident.severity.name}, promised every "
                    f"{incident.severity.update_cadence_minutes} min). Post one now."
                )
                people = []
                rows = []
                for role, user in (
                    ("commander", incident.commander),
                    ("comms lead", incident.comms_lead),
                ):
                    if user is None or any(user.pk == p.pk for p, _ in people):
                        continue
                    channels = _contacts(user)
                    people.append((user, [c for c, _ in channels]))
                    rows += [
                        OutboxMessage(
                            channel=channel,
                            recipient=address,
                            category=Category.INTERNAL,
                            incident_id=incident.pk,
                            subject=subject,
                            body=body,
                            dedupe_key=f"remind:{incident.pk}:{due.timestamp():.0f}:{period}:{user.pk}:{channel}",
                        )
                        for channel, address in channels
                    ]
                    del role
                OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
                who = (
                    "; ".join(
                        f"{user.get_username()} ({', '.join(ch) or 'no contact on file'})"
                        for user, ch in people
                    )
                    or "nobody (no commander or comms lead assigned)"
                )
                record_timeline_event(
                    incident,
                    TimelineKind.REMINDER,
                    f"Public update overdue by {int((now - due).total_seconds() // 60)} min; "
                    f"reminded {who}.",
                    at=now,
                    data={"due_at": due.isoformat(), "period": period, "messages": len(rows)},
                )
                sent += 1
        except IntegrityError:
            continue  # another worker reminded for this period already
    return sent
