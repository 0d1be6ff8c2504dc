"""The 90-day history bars: per component and day, the worst status and the minutes of outage.

Computed from ComponentStatusChange at render time. The page is served from a cache that only
a change (or the cache's timeout) refreshes, so this runs a few times per change, not per
visitor; two queries whatever the number of components, days or changes.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tideover.core.models import STATUS_RANK, Component, ComponentStatus
from tideover.incidents.models import ComponentStatusChange
from tideover.statuspage.reading import shared

OUTAGE_STATUSES = (ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)
# Partial outage counts as 30% down for the uptime figure, as common status pages weigh it.
_OUTAGE_WEIGHT = {ComponentStatus.PARTIAL_OUTAGE: 0.3, ComponentStatus.MAJOR_OUTAGE: 1.0}


# Short class names: the page carries 90 bars per component and is served to every visitor.
_BAR_CSS = {
    ComponentStatus.OPERATIONAL: "o",
    ComponentStatus.DEGRADED_PERFORMANCE: "d",
    ComponentStatus.PARTIAL_OUTAGE: "p",
    ComponentStatus.MAJOR_OUTAGE: "m",
    ComponentStatus.UNDER_MAINTENANCE: "u",
}


@dataclass
class DayBar:
    day: date
    worst: str  # a ComponentStatus value, or "" for days before the component existed
    outage_minutes: int = 0
    minutes: dict[str, int] = field(default_factory=dict)  # non-operational status -> minutes

    @property
    def css(self) -> str:
        return _BAR_CSS.get(self.worst, "n")

    @property
    def label(self) -> str:
        """The bar's text for people who cannot tell the colors apart (and screen readers)."""
        when = self.day.strftime("%b %-d")
        if not self.worst:
            return f"{when}: no data"
        if self.worst == ComponentStatus.OPERATIONAL:
            return f"{when}: operational"
        parts = [f"{when}: worst {ComponentStatus(self.worst).label.lower()}"]
        for status, minutes in sorted(
            self.minutes.items(), key=lambda kv: -STATUS_RANK[ComponentStatus(kv[0])]
        ):
            parts.append(f"{_duration(minutes)} {ComponentStatus(status).label.lower()}")
        return "; ".join(parts)


@dataclass
class ComponentHistory:
    component: Component
    days: list[DayBar]
    uptime_percent: float

    @property
    def quiet(self) -> bool:
        """No day with anything but operational (or no data)."""
        return all(d.worst in ("", ComponentStatus.OPERATIONAL) for d in self.days)

    @property
    def uptime_label(self) -> str:
        return f"{self.uptime_percent:.2f}% uptime"

    # The bars and their text are joined here rather than looped over in the template: the
    # 90 x components template iterations were most of the front page's render time, which
    # every change pays.
    @cached_property  # one reading's histories serve the served page and the export's
    def bars_html(self) -> SafeString:
        """The bars, one ``<li>`` a day, each titled with its label."""
        return mark_safe(  # noqa: S308 - every label is escaped
            "".join(f'<li class="{d.css}" title="{escape(d.label)}"></li>' for d in self.days)
        )

    @cached_property
    def notable_days_text(self) -> SafeString:
        """ " <label>." for each day that was not simply operational, for screen readers."""
        return mark_safe(  # noqa: S308 - every label is escaped
            "".join(
                f" {escape(d.label)}."
                for d in self.days
                if d.worst and d.worst != ComponentStatus.OPERATIONAL
            )
        )


def _duration(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def page_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _day_start(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


@shared
def component_history(
    components: list[Component], *, days: int = 90, now: datetime | None = None
) -> list[ComponentHistory]:
    """One bar per day (oldest first, today last) for each component, in the page's time zone."""
    now = now or timezone.now()
    zone = page_zone()
    today = timezone.localtime(now, zone).date()
    first_day = today - timedelta(days=days - 1)
    window_start = _day_start(first_day, zone)
    ids = [c.pk for c in components]

    # The status each component had when the window opened: its last change before then.
    before = (
        ComponentStatusChange.objects.filter(component=OuterRef("pk"), at__lt=window_start)
        .exclude(incident__is_drill=True)
        .order_by("-at", "-pk")
        .values("status")[:1]
    )
    opening = dict(
        Component.objects.filter(pk__in=ids)
        .annotate(opening=Subquery(before))
        .values_list("pk", "opening")
    )
    changes: dict[int, list[tuple[datetime, str, str]]] = {pk: [] for pk in ids}
    rows = (
        ComponentStatusChange.objects.filter(
            component_id__in=ids, at__gte=window_start, at__lte=now
        )
        .exclude(incident__is_drill=True)
        .order_by("at", "pk")
        .values_list("component_id", "at", "status", "previous_status")
    )
    for component_id, at, status, previous in rows:
        changes[component_id].append((at, status, previous))

    result = []
    for component in components:
        own = changes[component.pk]
        status = opening.get(component.pk) or (own[0][2] if own else component.status)
        # Nothing is known before the component was created.
        known_from = max(window_start, component.created_at)
        segments = []  # (start, end, status)
        cursor = known_from
        for at, new_status, _previous in own:
            if at > cursor:
                segments.append((cursor, at, status))
            cursor = max(cursor, at)
            status = new_status
        if now > cursor:
            segments.append((cursor, now, status))
        result.append(_bars(component, segments, first_day, days, zone, now))
    return result


def _bars(component, segments, first_day: date, days: int, zone, now) -> ComponentHistory:
    bars = []
    weighted_down = 0.0
    observed = 0.0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = _day_start(day, zone)
        end = min(_day_start(day + timedelta(days=1), zone), now)
        minutes: dict[str, float] = {}
        worst = ""
        for seg_start, seg_end, status in segments:
            lo, hi = max(seg_start, start), min(seg_end, end)
            if hi <= lo:
                continue
            span = (hi - lo).total_seconds() / 60
            observed += span
            weighted_down += span * _OUTAGE_WEIGHT.get(status, 0.0)
            if (
                not worst
                or STATUS_RANK[ComponentStatus(status)] > STATUS_RANK[ComponentStatus(worst)]
            ):
                worst = status
            if status != ComponentStatus.OPERATIONAL:
                minutes[status] = minutes.get(status, 0) + span
        rounded = {s: max(1, round(m)) for s, m in minutes.items()}
        outage = sum(m for s, m in rounded.items() if s in OUTAGE_STATUSES)
        bars.append(DayBar(day=day, worst=worst, outage_minutes=outage, minutes=rounded))
    uptime = 100.0 if observed <= 0 else 100.0 * (1 - weighted_down / observed)
    return ComponentHistory(component=component, days=bars, uptime_percent=uptime)
