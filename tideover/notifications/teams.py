"""Backup channels for staff briefings.

A team (``StaffTeam``) lists staff channels in order. A briefing goes to every active staff
channel that is not only a backup (the first of each team, and channels in no team). When a
message to a team's channel fails (an attempt fails, even one that will be retried: the chat
tool may be what is down, and the briefing cannot wait for its backoff), the same briefing is
queued at once on the team's next active channel, and ``BriefingFallback`` records which failed,
why, and which took over; the incident's timeline says so. A fallback that fails moves on down
the order the same way. The same channel is never sent the same briefing twice (dedupe key).
"""

from __future__ import annotations

from django.db.models import Min

from tideover.notifications.models import (
    BriefingFallback,
    Category,
    ChannelEndpoint,
    OutboxMessage,
    TeamChannel,
)


def first_receiving_channel(team_name: str) -> ChannelEndpoint | None:
    """The team's first active staff channel (the one a page or briefing goes to), or None when
    there is no such team or none of its channels receives."""
    first = _receiving_in_order(team__name=team_name).first() if team_name else None
    return first.endpoint if first is not None else None


def _receiving_in_order(**where):
    """A team's channels that receive, in the team's order (``where`` picks team and from
    which position)."""
    return (
        TeamChannel.objects.filter(ChannelEndpoint.receiving("endpoint__"), **where)
        .select_related("endpoint")
        .order_by("position")
    )


def backup_only_endpoint_ids() -> set[int]:
    """Channels that appear in teams only as backups: they get a briefing only on a failure."""
    firsts = TeamChannel.objects.values("team_id").annotate(first=Min("position"))
    first_positions = {row["team_id"]: row["first"] for row in firsts}
    primary, backup = set(), set()
    for team_id, endpoint_id, position in TeamChannel.objects.values_list(
        "team_id", "endpoint_id", "position"
    ):
        (primary if position == first_positions[team_id] else backup).add(endpoint_id)
    return backup - primary


def fall_back(message: OutboxMessage, error: str) -> list[OutboxMessage]:
    """Queue the failed staff message's briefing on the next channel of each team it serves."""
    if (
        message.category != Category.INTERNAL
        or not message.endpoint_id
        or not message.notification_id
    ):
        return []
    made = []
    for link in TeamChannel.objects.filter(endpoint_id=message.endpoint_id).select_related("team"):
        if BriefingFallback.objects.filter(failed=message, team=link.team).exists():
            continue
        for candidate in _receiving_in_order(team=link.team, position__gt=link.position):
            endpoint: ChannelEndpoint = candidate.endpoint
            fallback, created = OutboxMessage.objects.get_or_create(
                dedupe_key=f"n{message.notification_id}:e{endpoint.pk}",
                defaults={
                    "channel": endpoint.channel,
                    "recipient": endpoint.target,
                    "category": Category.INTERNAL,
                    "notification_id": message.notification_id,
                    "endpoint": endpoint,
                    "incident_id": message.incident_id,
                },
            )
            if not created and fallback.state in ("failed", "cancelled"):
                continue  # already tried and failed for this briefing: go further down
            BriefingFallback.objects.create(
                team=link.team, failed=message, fallback=fallback, error=error[:500]
            )
            _note_on_timeline(message, endpoint, link.team, error)
            made.append(fallback)
            break
    return made


def _note_on_timeline(message: OutboxMessage, endpoint: ChannelEndpoint, team, error: str) -> None:
    if not message.incident_id:
        return
    from tideover.incidents.models import Incident
    from tideover.incidents.services import record_timeline_event

    incident = Incident.objects.filter(pk=message.incident_id).first()
    if incident is None:
        return
    failed = message.endpoint.name if message.endpoint else message.channel
    record_timeline_event(
        incident,
        "messages",
        f"Staff briefing to {failed} failed ({error[:120]}); {team.name} falls back to "
        f"{endpoint.name} ({endpoint.get_channel_display()}).",
        data={"failed": message.pk, "team": team.name, "fallback_endpoint": endpoint.pk},
    )


def briefing_report(incident_id: int) -> list[dict]:
    """Per briefing of an incident: each staff channel's message, its state and error, and
    which fallback took over for which team (and whether that reached them)."""
    messages = list(
        OutboxMessage.objects.filter(incident_id=incident_id, category=Category.INTERNAL)
        .select_related("endpoint", "notification")
        .order_by("notification__at", "notification_id", "pk")
    )
    fallbacks: dict[int, list[BriefingFallback]] = {}
    for row in BriefingFallback.objects.filter(failed__incident_id=incident_id).select_related(
        "team", "fallback__endpoint"
    ):
        fallbacks.setdefault(row.failed_id, []).append(row)
    briefings: dict[int, dict] = {}
    for message in messages:
        notification = message.notification
        key = message.notification_id or 0
        entry = briefings.setdefault(
            key,
            {"notification": notification, "messages": [], "failed": 0, "reached": 0},
        )
        message.fallbacks = fallbacks.get(message.pk, [])
        entry["messages"].append(message)
        if message.state == "failed" or message.last_error:
            entry["failed"] += 1
        if message.state in ("sent", "delivered"):
            entry["reached"] += 1
    return list(briefings.values())
