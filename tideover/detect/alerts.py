"""From anomalies to alerts: attribution, combining, dismissed patterns, clearing.

- **Attribution.** Store signals of one family (a sale failure rate per store, say) that move in
  the same minute are weighed together: many stores in more than one region is chain-wide (HQ
  or the card processor), most of one region's stores is that region, otherwise each store
  has its own failure (its line is down). The alert says which, and how many moved.
- **Combining.** Findings of the same scope (the chain, a region, a store) join the alert that
  is already live for it, so heartbeat coverage, failure rate and complaints agreeing make one
  alert with all their evidence, not three pages.
- **Dismissed patterns.** An alert a person dismissed leaves its cause behind; the same cause
  coming back opens quietly (dismissed, not paged) until the pattern expires. Only that cause
  joins the quiet alert: another one at the same place opens (and pages) an alert of its own.
- **Clearing.** An open alert with nothing new for ``CLEAR_AFTER`` clears itself.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from tideover.core import events
from tideover.core.models import Store
from tideover.detect import paging
from tideover.detect.models import (
    LIVE_ALERT_STATES,
    Alert,
    AlertScope,
    AlertState,
    DismissedPattern,
    Signal,
    SignalPoint,
)
from tideover.detect.scoring import Anomaly, RuleHit

MERGE_WINDOW = timedelta(minutes=30)
CLEAR_AFTER = timedelta(minutes=30)
CHAIN_SHARE = 0.25  # of a family's stores, in two regions or more
REGION_SHARE = 0.5  # of one region's stores
EVIDENCE_MINUTES = 30


@dataclass
class Finding:
    scope: str
    where: str  # store code, region slug or "chain"
    signals: list[Signal]
    started_at: datetime
    score: float
    detectors: list[str]
    stores: list[Store] = field(default_factory=list)
    region_ids: set[int] = field(default_factory=set)
    attribution: str = ""
    auto_declare_level: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.scope, self.where)


def _family_stores(families: set[str]) -> dict[str, list[Signal]]:
    members = defaultdict(list)
    for signal in Signal.objects.filter(
        family__in=families, store__isnull=False, is_active=True
    ).select_related("store"):
        members[signal.family].append(signal)
    return members


def attribute(anomalies: list[Anomaly]) -> list[Finding]:
    """Group anomalies, minute by minute, into findings with a scope (store, region, chain)."""
    by_minute = defaultdict(list)
    for anomaly in anomalies:
        by_minute[anomaly.point.minute].append(anomaly)
    findings: list[Finding] = []
    for minute in sorted(by_minute):
        findings.extend(_attribute_minute(by_minute[minute]))
    return findings


def _attribute_minute(anomalies: list[Anomaly]) -> list[Finding]:
    findings: list[Finding] = []
    by_family = defaultdict(list)
    for anomaly in anomalies:
        signal = anomaly.signal
        if signal.store_id and signal.family:
            by_family[signal.family].append(anomaly)
        else:
            findings.append(
                Finding(
                    AlertScope.STORE if signal.store_id else AlertScope.CHAIN,
                    signal.store.code if signal.store_id else "chain",
                    [signal],
                    anomaly.point.minute,
                    anomaly.point.score or 0.0,
                    [f"baseline detector on {signal.name} (score {anomaly.point.score:.2f})"],
                    stores=[signal.store] if signal.store_id else [],
                )
            )
    members = _family_stores(set(by_family))
    for family, moved in by_family.items():
        everyone = members.get(family) or [a.signal for a in moved]
        stores = [a.signal.store for a in moved]
        regions = {s.region_id for s in stores}
        share = len(moved) / max(len(everyone), 1)
        region_total = sum(1 for s in everyone if s.store.region_id in regions)
        started = min(a.point.minute for a in moved)
        score = max(a.point.score or 0.0 for a in moved)
        signals = [a.signal for a in moved]
        detector = f"{family}: {len(moved)} of {len(everyone)} stores moved together"
        if len(moved) >= 2 and share >= CHAIN_SHARE and len(regions) >= 2:
            findings.append(
                Finding(
                    AlertScope.CHAIN,
                    "chain",
                    signals,
                    started,
                    score,
                    [detector],
                    stores=stores,
                    region_ids=regions,
                    attribution=f"chain-wide: {len(moved)} of {len(everyone)} stores in "
                    f"{len(regions)} regions (HQ or a shared provider)",
                )
            )
        elif len(moved) >= 2 and len(regions) == 1 and len(moved) / region_total >= REGION_SHARE:
            findings.append(
                Finding(
                    AlertScope.REGION,
                    str(next(iter(regions))),
                    signals,
                    started,
                    score,
                    [detector],
                    stores=stores,
                    region_ids=regions,
                    attribution=f"one region: {len(moved)} of its {region_total} stores",
                )
            )
        else:
            for anomaly in moved:
                store = anomaly.signal.store
                findings.append(
                    Finding(
                        AlertScope.STORE,
                        store.code,
                        [anomaly.signal],
                        anomaly.point.minute,
                        anomaly.point.score or 0.0,
                        [detector],
                        stores=[store],
                        region_ids={store.region_id},
                        attribution=f"store {store.code} alone ({len(moved)} of "
                        f"{len(everyone)} stores moved): its own failure, e.g. its line",
                    )
                )
    return findings


def _rule_findings(hits: list[RuleHit]) -> list[Finding]:
    findings = []
    for hit in hits:
        signal = hit.rule.signal
        findings.append(
            Finding(
                AlertScope.STORE if signal.store_id else AlertScope.CHAIN,
                signal.store.code if signal.store_id else "chain",
                [signal],
                hit.points[0].minute,
                1.0,
                [f"rule: {hit.rule.describe()}"],
                stores=[signal.store] if signal.store_id else [],
                auto_declare_level=hit.rule.severity_level if hit.rule.auto_declare else None,
            )
        )
    return findings


def _cause(finding: Finding) -> str:
    names = sorted({s.family or s.slug for s in finding.signals})
    return f"{finding.scope}:{finding.where}:{'+'.join(names)}"[:300]


def _title(finding: Finding) -> str:
    names = sorted({s.name.split(" — ")[0] for s in finding.signals})
    where = {
        AlertScope.CHAIN: "across the chain",
        AlertScope.REGION: "in one region",
        AlertScope.STORE: f"at store {finding.where}",
    }[finding.scope]
    return f"{', '.join(names)} unusual {where}"[:200]


def _series(signal: Signal, at: datetime) -> list[dict]:
    points = SignalPoint.objects.filter(
        signal=signal, minute__gt=at - timedelta(minutes=EVIDENCE_MINUTES), minute__lte=at
    ).order_by("minute")
    return [
        {
            "minute": p.minute.isoformat(),
            "value": p.value,
            "baseline": p.baseline,
            "low": p.low,
            "high": p.high,
            "anomalous": p.anomalous,
        }
        for p in points
    ]


def _live_alert(finding: Finding, at: datetime) -> Alert | None:
    """The alert this finding joins: live for the same scope and place, or held quietly by a
    dismissed pattern for the same cause, and seen recently."""
    return (
        Alert.objects.filter(scope=finding.scope, last_seen_at__gte=at - MERGE_WINDOW)
        .filter(
            Q(state__in=LIVE_ALERT_STATES)
            | Q(state=AlertState.INCIDENT, incident__resolved_at__isnull=True)
            # Only its own cause: a quiet alert is closed and never pages, so anything else
            # joining it (another signal failing at the same place) would go unseen.
            | Q(state=AlertState.DISMISSED, paged=False, cause=_cause(finding))
        )
        .filter(Q(evidence__where=finding.where))
        .order_by("-opened_at")
        .first()
    )


def _add_evidence(alert: Alert, finding: Finding, at: datetime) -> None:
    evidence = alert.evidence or {}
    seen = set(evidence.get("detectors", []))
    evidence["detectors"] = [
        *evidence.get("detectors", []),
        *(d for d in finding.detectors if d not in seen),
    ]
    if finding.attribution:
        evidence["attribution"] = finding.attribution
    series = evidence.setdefault("series", {})
    for signal in finding.signals:
        if signal.slug not in series:
            series[signal.slug] = {"name": signal.name, "points": _series(signal, at)}
    evidence["where"] = finding.where
    alert.evidence = evidence
    alert.score = max(alert.score, finding.score)
    alert.last_seen_at = max(alert.last_seen_at, at)
    alert.started_at = min(alert.started_at, finding.started_at)


@transaction.atomic
def raise_finding(finding: Finding, at: datetime) -> tuple[Alert, bool]:
    """Join the live alert for the finding's scope, or open one; returns (alert, opened)."""
    alert = _live_alert(finding, at)
    opened = alert is None
    if opened:
        cause = _cause(finding)
        pattern = DismissedPattern.objects.filter(cause=cause, expires_at__gt=at).first()
        alert = Alert(
            title=_title(finding),
            scope=finding.scope,
            cause=cause,
            started_at=finding.started_at,
            opened_at=at,
            last_seen_at=at,
            evidence={"where": finding.where},
        )
        if pattern is not None:
            alert.state = AlertState.DISMISSED
            alert.paged = False
            alert.closed_at = at
            alert.dismissed_reason = f"Same cause as a dismissed alert: {pattern.reason}"[:300]
    _add_evidence(alert, finding, at)
    alert.save()
    alert.signals.add(*finding.signals)
    if finding.stores:
        alert.stores.add(*finding.stores)
    if finding.region_ids:
        alert.regions.add(*finding.region_ids)
    components = {c for s in finding.signals for c in s.components.all()}
    if components:
        alert.components.add(*components)
    if opened and alert.paged:
        paging.page(alert, at)
        events.publish("detect.alert_opened", alert=alert, at=at)
    return alert, opened


def clear_quiet_alerts(at: datetime) -> int:
    return Alert.objects.filter(
        state__in=LIVE_ALERT_STATES, last_seen_at__lt=at - CLEAR_AFTER
    ).update(state=AlertState.CLEARED, closed_at=at)


def process(anomalies: list[Anomaly], hits: list[RuleHit], *, at: datetime) -> int:
    """Turn what fired into alerts (auto-declaring where a rule says so); returns how many
    alerts were opened."""
    from tideover.detect.actions import auto_declare

    opened = 0
    for finding in attribute(anomalies) + _rule_findings(hits):
        alert, is_new = raise_finding(finding, at)
        opened += is_new
        if finding.auto_declare_level is not None and alert.is_live and alert.incident_id is None:
            auto_declare(alert, finding.auto_declare_level, at=at)
    clear_quiet_alerts(at)
    paging.page_again(at)
    return opened
