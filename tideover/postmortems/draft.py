"""The postmortem draft, in Markdown, generated from the records every time it is asked for.

Numbers come from this incident's own records (incidents, runbooks, frontline) and from the
other capabilities' services (sales, notifications, storelink, recovery), each guarded so the
draft says plainly what is not counted when a capability is not installed. A drill is marked as
one and its numbers are never mixed into real ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.apps import apps
from django.utils import timezone

from tideover.core.models import Register
from tideover.frontline import services as frontline
from tideover.frontline.models import Report
from tideover.incidents.models import Incident, TimelineKind
from tideover.incidents.views import duration_text
from tideover.postmortems.models import ActionItem
from tideover.runbooks.drills import _median
from tideover.runbooks.models import Checklist, IncidentRunbook


def _t(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _d(delta: timedelta | None) -> str:
    return duration_text(delta) or "—"


def _cents(cents: int) -> str:
    return f"${cents / 100:,.2f}"


# What stores and staff write is quoted on one line with Markdown's marks escaped, so a report
# reading "\n## Action items\n- [x] ..." cannot add a section, a ticked item or a link to the draft.
_MARKDOWN_MARKS = str.maketrans({c: "\\" + c for c in "\\`*[]<>#"})


def _quote(text: str | None) -> str:
    return " ".join((text or "").split()).translate(_MARKDOWN_MARKS)


def open_periods(incident: Incident, now: datetime) -> list[tuple[datetime, datetime]]:
    """From declaring to resolving, and from each reopening to the next resolving (or now)."""
    periods = []
    start = incident.declared_at
    changes = (
        incident.timeline.filter(kind__in=[TimelineKind.RESOLVED, TimelineKind.REOPENED])
        .order_by("at", "pk")
        .values_list("kind", "at")
    )
    for kind, at in changes:
        if kind == TimelineKind.RESOLVED and start is not None:
            periods.append((start, at))
            start = None
        elif kind == TimelineKind.REOPENED and start is None:
            start = at
    if start is not None:
        periods.append((start, incident.resolved_at or now))
    return periods


def cadence_gaps(incident: Incident, now: datetime) -> list[tuple[datetime, datetime]]:
    """Silences longer than the severity's cadence while the incident was open: between
    declaring (or reopening), each public update and resolving (or now, while open). The days
    it stayed resolved before a reopening promised no update, so they are no miss."""
    cadence = incident.severity.cadence if incident.severity else None
    if cadence is None:
        return []
    updates = sorted(incident.public_updates.values_list("posted_at", flat=True))
    gaps = []
    for start, end in open_periods(incident, now):
        times = [start, *(at for at in updates if start <= at <= end), end]
        gaps += [(a, b) for a, b in zip(times, times[1:], strict=False) if b - a > cadence]
    return gaps


def _times(incident: Incident, lines: list[str]) -> None:
    start = incident.started_at or incident.declared_at
    lines += ["## Times", "", "| | when | how long |", "|---|---|---|"]
    lines.append(f"| Started | {_t(incident.started_at)} | |")
    lines.append(
        f"| Detected | {_t(incident.detected_at)} | time to detect: {_d(incident.time_to_detect)} |"
    )
    lines.append(f"| Declared | {_t(incident.declared_at)} | |")
    lines.append(
        f"| First public update | {_t(incident.first_public_update_at)} | "
        f"time to first public update: {_d(incident.time_to_first_update)} |"
    )
    to_mitigate = incident.mitigated_at - start if incident.mitigated_at else None
    lines.append(
        f"| Mitigated | {_t(incident.mitigated_at)} | time to mitigate: {_d(to_mitigate)} |"
    )
    lines.append(
        f"| Resolved | {_t(incident.resolved_at)} | time to resolve: {_d(incident.time_to_resolve)} |"
    )
    lines.append("")


def _public(incident: Incident, now: datetime, lines: list[str]) -> int:
    updates = incident.public_updates.count()
    gaps = cadence_gaps(incident, now)
    cadence = incident.severity.update_cadence_minutes if incident.severity else None
    lines += ["## Telling the public", ""]
    lines.append(
        f"- Public updates: {updates}"
        + (f" (promised at least every {cadence} min)" if cadence else " (no update cadence)")
    )
    lines.append(f"- Cadence misses: {len(gaps)}")
    for a, b in gaps:
        lines.append(f"  - silent from {_t(a)} to {_t(b)} ({_d(b - a)})")
    from tideover.notifications.figures import incident_messages

    sent = incident_messages(incident.pk)
    by_channel = ", ".join(f"{n} {ch}" for ch, n in sorted(sent["public"].items())) or "none"
    lines.append(
        f"- Messages to subscribers: {sent['public_total']} ({by_channel}); failed: {sent['public_failed']}"
    )
    lines.append(f"- Staff briefings: {sent['staff']}; failed: {sent['staff_failed']}")
    lines.append("")
    return len(gaps)


def _stores(incident: Incident, now: datetime, lines: list[str]) -> list[int]:
    store_ids = sorted(incident.affected_store_ids())
    lines += ["## Stores and the plan", ""]
    lines.append(f"- Stores affected: {len(store_ids)} ({incident.store_scope_label()})")
    lines.append(
        f"- Registers in those stores: {Register.objects.filter(store_id__in=store_ids).count()}"
    )
    attached = (
        IncidentRunbook.objects.select_related("version__runbook").filter(incident=incident).first()
    )
    if attached is None:
        lines.append("- Runbook: none attached")
    else:
        lines.append(
            f"- Runbook: {attached.version.runbook.title}, version {attached.version.number}"
        )
        issued = (
            Checklist.objects.filter(incident=incident)
            .order_by("issued_at", "pk")
            .values_list("plan_name", "issued_at")
        )
        # Stores joining later get the plan in force at a later time: the same plan, not a
        # change. A plan counts again only after another was put in force in between.
        used = []
        for name, at in issued:
            if not used or used[-1][0] != name:
                used.append((name, at))
        shown = ", ".join(f"{name} from {_t(at)}" for name, at in used)
        lines.append(f"- Plans used: {shown or '—'}")
        stores = list(
            Checklist.objects.filter(
                incident=incident, store__isnull=False, superseded_at__isnull=True
            ).values_list("issued_at", "acknowledged_at", "done_at", "stuck_at", "nudges")
        )
        acks = [ack - issued for issued, ack, *_ in stores if ack]
        dones = [done - issued for issued, _, done, *_ in stores if done]
        lines.append(
            f"- Stores with the plan in force: {len(stores)}; acknowledged: {len(acks)} "
            f"(median {_d(_median(acks))}); finished every step: {len(dones)} "
            f"(median {_d(_median(dones))}); stuck at the end: "
            f"{sum(1 for s in stores if s[3] and not s[2])}; nudged: {sum(1 for s in stores if s[4])}"
        )
    _heartbeats(incident, now, lines)
    lines.append("")
    return store_ids


def _heartbeats(incident: Incident, now: datetime, lines: list[str]) -> None:
    if not apps.is_installed("tideover.storelink"):
        lines.append("- Store heartbeats: not counted (the store link capability is not installed)")
        return
    from tideover.storelink.services import heartbeat_coverage

    start = incident.started_at or incident.declared_at
    series = heartbeat_coverage(start, incident.resolved_at or now)
    if not series:
        lines.append("- Store heartbeats: no store agent registered")
        return
    minute, lowest = min(series, key=lambda point: point[1])
    lines.append(f"- Lowest heartbeat coverage: {lowest:.0%} of stores at {_t(minute)}")


def _sales(incident: Incident, store_ids: list[int], now: datetime, lines: list[str]) -> dict:
    lines += ["## Sales and loyalty", ""]
    if not apps.is_installed("tideover.sales"):
        lines += ["Not counted: the sales capability is not installed.", ""]
        return {}
    from tideover.sales.figures import window_figures

    start = incident.started_at or incident.declared_at
    figures = window_figures(store_ids, start, incident.resolved_at or now)
    lines.append(
        f"- Sales in affected stores during the incident: {figures['sales']} "
        f"(completed {figures['completed']}, declined {figures['declined']})"
    )
    lines.append(
        f"- Queued offline and posted later: {figures['queued_offline']} "
        f"({_cents(figures['queued_offline_cents'])}); longest wait {_d(figures['longest_wait'])}; "
        f"last posted {_t(figures['last_queued_posted_at'])}"
    )
    lines.append(f"- Card payments taken offline: {figures['offline_card_payments']}")
    lines.append(f"- Member sales whose points posted late: {figures['member_sales_posted_late']}")
    lines.append("")
    return figures


def _customers(incident: Incident, lines: list[str]) -> dict | None:
    lines += ["## Customers", ""]
    if not apps.is_installed("tideover.recovery"):
        lines += [
            "Not counted: affected customers, goodwill sent and redeemed come from the Recover "
            "capability, which is not installed here.",
            "",
        ]
        return None
    from tideover.recovery.results import TOTAL, results

    total = results(incident)["rows"][TOTAL]
    figures = {
        "affected": total["captured"],
        "goodwill_offers": total["offers"],
        "goodwill_sent": total["sent"],
        "goodwill_redeemed": total["redeemed"],
    }
    lines.append(f"- Affected customers signed up or found: {total['captured']}")
    lines.append(
        f"- Goodwill offers: {total['offers']}; sent: {total['sent']}; "
        f"delivered: {total['delivered']}; redeemed: {total['redeemed']}"
    )
    lines.append(
        f"- Revenue from redeemed offers: {_cents(total['revenue_cents'])}; "
        f"discount given: {_cents(total['discount_cents'])}"
    )
    lines.append("")
    return figures


def _promises(gaps: int, sales: dict, customers: dict | None, lines: list[str]) -> None:
    lines += ["## Promises to customers", ""]
    lines.append(
        f"- Keep updating: {'kept' if gaps == 0 else f'broken {gaps} time(s) (see cadence misses)'}"
    )
    if sales:
        lines.append(
            f"- Sales that posted late: {sales['queued_offline']} (each with the time the customer paid)"
        )
        lines.append(f"- Declines: {sales['declined']}")
        lines.append(
            f"- Loyalty points delayed: {sales['member_sales_posted_late']} member sale(s)"
        )
    if customers is not None:
        lines.append(
            f"- Goodwill: {customers['goodwill_sent']} sent, {customers['goodwill_redeemed']} redeemed"
        )
    else:
        lines.append("- Goodwill sent and redeemed: not counted (Recover not installed)")
    lines.append("")


def _front_line(incident: Incident, lines: list[str]) -> None:
    figures = frontline.reports_figures(incident)
    lines += ["## What the front line said", ""]
    lines.append(
        f"- Reports linked to this incident: {figures['problems']} problem(s), "
        f"{figures['insights']} about what customers said"
    )
    for report in (
        Report.objects.filter(incident=incident).select_related("store").order_by("created_at")[:20]
    ):
        where = report.store.code if report.store_id else "a store"
        answer = f" — answered: {_quote(report.answer)}" if report.answer else ""
        lines.append(f"  - {_t(report.created_at)} {where}: {_quote(report.text)}{answer}")
    lines.append("")


def _timeline(incident: Incident, lines: list[str]) -> None:
    lines += ["## Timeline", ""]
    events = incident.timeline.exclude(kind=TimelineKind.MESSAGES).order_by("at", "pk")
    for event in events.iterator():
        data = event.data or {}
        # Per-store acknowledgements and ticks are summed up above, not listed one by one.
        if event.kind == TimelineKind.CHECKLIST and "checklist" in data and not data.get("stuck"):
            continue
        lines.append(
            f"- {_t(event.at)} **{event.get_kind_display()}** ({_quote(event.author_name)}): "
            f"{_quote(event.body)}"
        )
    lines.append("")


def _actions(incident: Incident, lines: list[str]) -> None:
    lines += ["## Action items", ""]
    items = ActionItem.objects.filter(incident=incident)
    for item in items:
        mark = "x" if item.done_at else " "
        extra = ", ".join(
            p for p in (item.owner, f"due {item.due_on:%Y-%m-%d}" if item.due_on else "") if p
        )
        extra = _quote(extra)
        lines.append(f"- [{mark}] {_quote(item.text)}" + (f" ({extra})" if extra else ""))
    if not items:
        lines.append("- (none yet)")
    lines.append("")


def draft(incident: Incident, now: datetime | None = None) -> str:
    """The postmortem of ``incident`` as Markdown."""
    now = now or timezone.now()
    lines = [f"# Postmortem: {incident.title}", ""]
    lines.append(
        f"_Draft generated {_t(now)} from Tideover's records; numbers are recomputed each time._"
    )
    lines.append("")
    if incident.is_drill:
        lines += [
            "> This was a **drill**: nothing reached customers or the public, and its figures stay out of real reports.",
            "",
        ]
    severity = incident.severity.name if incident.severity else "—"
    lines.append(f"- Severity: {severity}; state: {incident.get_state_display()}")
    components = ", ".join(
        f"{a.component.name} ({a.get_status_display().lower()})"
        for a in incident.affected_components.select_related("component")
    )
    lines.append(f"- Components: {components or '—'}")
    commander = incident.commander.get_username() if incident.commander else "—"
    comms = incident.comms_lead.get_username() if incident.comms_lead else "—"
    lines += [f"- Commander: {commander}; comms lead: {comms}", ""]
    _times(incident, lines)
    gaps = _public(incident, now, lines)
    store_ids = _stores(incident, now, lines)
    sales = _sales(incident, store_ids, now, lines)
    customers = _customers(incident, lines)
    _promises(gaps, sales, customers, lines)
    _front_line(incident, lines)
    _timeline(incident, lines)
    _actions(incident, lines)
    return "\n".join(lines)
