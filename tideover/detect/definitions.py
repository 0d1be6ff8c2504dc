"""Creating and changing signals and rules (the console's forms call these).

A signal's slug and kind are fixed once it exists: points and reports are keyed on them, and a
gauge's history cannot become counts. Everything else may change; a new sensitivity or
direction takes effect at the signal's next scored minute (the detector's learned state is
kept). A rule that declares by itself names a severity that exists.
"""

from __future__ import annotations

import math
import re

from django.db import transaction

from tideover.core.errors import DomainError
from tideover.detect.models import Rule, Signal

MAX_RULE_MINUTES = 24 * 60
# What the API and files can name (POST /api/v1/signals checks the same pattern): a signal made
# elsewhere with another slug (Card_Latency) could never be pushed to.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"
SIGNAL_FIELDS = ("name", "unit", "owner", "direction", "sensitivity", "store", "is_active")
RULE_FIELDS = (
    "name",
    "signal",
    "comparison",
    "threshold",
    "minutes",
    "auto_declare",
    "severity_level",
    "is_active",
)


@transaction.atomic
def save_signal(signal: Signal | None, *, components=(), **fields) -> Signal:
    """Create a signal (``signal`` None: ``slug`` and ``kind`` given) or change one."""
    if not (fields.get("name") or "").strip():
        raise DomainError("Give the signal a name", field="name")
    if signal is None:
        slug = fields.pop("slug", "")
        if not re.fullmatch(SLUG_PATTERN, slug or ""):
            raise DomainError(
                "A slug is lower-case letters, digits and dashes (up to 80), starting with a "
                "letter or digit, e.g. card-latency",
                field="slug",
            )
        if Signal.objects.filter(slug=slug).exists():
            raise DomainError(f"A signal {slug!r} exists already", field="slug")
        signal = Signal(slug=slug, kind=fields.pop("kind"), source="console")
    else:
        for fixed in ("slug", "kind"):
            if fixed in fields and fields.pop(fixed) != getattr(signal, fixed):
                raise DomainError(f"A signal's {fixed} cannot change", field=fixed)
    for name in SIGNAL_FIELDS:
        if name in fields:
            setattr(signal, name, fields[name])
    signal.name = signal.name.strip()
    signal.save()
    signal.components.set(components)
    return signal


@transaction.atomic
def save_rule(rule: Rule | None, **fields) -> Rule:
    """Create a plain rule (``rule`` None) or change one."""
    from tideover.incidents.models import Severity

    if not (fields.get("name") or "").strip():
        raise DomainError("Give the rule a name", field="name")
    threshold = fields.get("threshold")
    if threshold is None or not math.isfinite(threshold):
        raise DomainError("The threshold must be a number", field="threshold")
    minutes = fields.get("minutes") or 0
    if not 1 <= minutes <= MAX_RULE_MINUTES:
        raise DomainError(
            f"Minutes must be between 1 and {MAX_RULE_MINUTES} (a day)", field="minutes"
        )
    if (
        fields.get("auto_declare")
        and not Severity.objects.filter(level=fields.get("severity_level")).exists()
    ):
        levels = ", ".join(str(v) for v in Severity.objects.values_list("level", flat=True))
        raise DomainError(
            f"No severity has level {fields.get('severity_level')} (levels: {levels or 'none'})",
            field="severity_level",
        )
    rule = rule or Rule()
    for name in RULE_FIELDS:
        if name in fields:
            setattr(rule, name, fields[name])
    rule.name = rule.name.strip()
    rule.save()
    return rule
