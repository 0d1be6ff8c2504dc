"""Detect's services, for other apps and for this app's API, pages and commands.

Other apps push into Detect through ``record_point`` (a value for a minute) and
``record_event`` (one report or complaint, counted per minute); the rest is Detect's own.
"""

from tideover.detect.actions import (
    acknowledge_alert,
    declare_from_alert,
    dismiss_alert,
    draft_for,
)
from tideover.detect.scoring import run_detection, score_signals
from tideover.detect.signals import (
    ensure_signal,
    get_signal,
    minute_of,
    record_event,
    record_point,
    record_points,
)

__all__ = [
    "acknowledge_alert",
    "declare_from_alert",
    "dismiss_alert",
    "draft_for",
    "ensure_signal",
    "get_signal",
    "minute_of",
    "record_event",
    "record_point",
    "record_points",
    "run_detection",
    "score_signals",
]
