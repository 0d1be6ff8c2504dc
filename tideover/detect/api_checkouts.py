"""/api/v1/web-checkouts: the web shop reports its checkouts and errors per minute, from which
Detect derives the web checkout error rate (``tideover.detect.checkouts``)."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema
from pydantic import ConfigDict, Field

from tideover.core.api_auth import access
from tideover.core.models import TokenScope
from tideover.core.roles import Capability
from tideover.detect import checkouts

router = Router(tags=["detect"])
WRITE = {"scope": TokenScope.SIGNALS_WRITE, "capability": Capability.MANAGE_SIGNALS}
MAX_REPORTS = 5000


class CheckoutReportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    minute: datetime = Field(description="The minute the checkouts ran in (seconds are dropped)")
    checkouts: int = Field(ge=0, le=10_000_000, description="Checkouts attempted that minute")
    errors: int = Field(ge=0, le=10_000_000, description="Of those, how many errored")
    source: str = Field("web", min_length=1, max_length=60, description="The reporting server")


class CheckoutReportsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reports: list[CheckoutReportIn] = Field(min_length=1, max_length=MAX_REPORTS)


class ReportResultOut(Schema):
    source: str
    minute: datetime | None
    result: str
    reason: str


class ReportsOut(Schema):
    recorded: int
    duplicate: int
    conflict: int
    rejected: int
    results: list[ReportResultOut]


@router.post(
    "/web-checkouts",
    auth=access(**WRITE),
    response=ReportsOut,
    summary="Report web checkouts and their errors per minute",
    description="Idempotent by source and minute: the same counts again are a duplicate; other "
    "counts for a reported minute are a conflict (the first stays). Each report gets its own "
    "result. Detect derives the signal `web-checkout-error-rate` from these.",
)
def post_checkouts(request, payload: CheckoutReportsIn):
    results = checkouts.record_checkouts(
        [
            checkouts.CheckoutReport(r.minute, r.checkouts, r.errors, r.source.strip())
            for r in payload.reports
        ]
    )
    counts = dict.fromkeys(("recorded", "duplicate", "conflict", "rejected"), 0)
    for result in results:
        counts[result.result] += 1
    return {**counts, "results": [r.as_dict() for r in results]}
