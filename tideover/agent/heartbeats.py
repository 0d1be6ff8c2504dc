"""The agent's heartbeats and registration: what HQ hears from it every few seconds, and the
settings HQ answers with (card policy, loyalty rules, per-sale limits), cached in the journal
so they hold offline. Mixed into ``service.Agent``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime

from tideover.agent import VERSION
from tideover.agent.hq import HQRefused, HQUnavailable
from tideover.agent.policy import CardPolicy, Program
from tideover.sales.caps import PerSaleLimits

log = logging.getLogger("tideover.agent")
PRUNE_EVERY_SECONDS = 3600  # how often old posted sales and log lines are deleted
# HQ refuses a time outside the years 2000-2100 (core.schemas.Moment): such a time is a clock
# error (a box without a battery boots in 1970), and sending it would get every heartbeat refused.
SENDABLE_YEARS = range(2001, 2100)
TIMES = ("oldest_unsent_at", "offline_since", "last_sync_at")


def sendable(value: str | None) -> str | None:
    """An ISO time HQ will take, or None for one it must refuse (a wrong clock's)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return value if moment.tzinfo is not None and moment.year in SENDABLE_YEARS else None


class HeartbeatLink:
    def heartbeat_body(self, status: dict | None = None) -> dict:
        status = status or self.status()
        keys = (
            "agent_id",
            "version",
            "mode",
            "queue_depth",
            "oldest_unsent_at",
            "offline_since",
            "card_exposure_cents",
            "card_count",
            "last_sync_at",
        )
        body = {k: sendable(status[k]) if k in TIMES else status[k] for k in keys}
        body["store"] = self.config.store
        body["rejected"] = status["problems"]["counts"].get("rejected", 0)
        body["conflicts"] = status["problems"]["counts"].get("conflict", 0)
        body["quarantined"] = status["problems"]["counts"].get("quarantined", 0)
        return body

    def heartbeat(self) -> bool:
        """One heartbeat; HQ's answer carries the card policy and loyalty program to cache."""
        body = self.heartbeat_body()
        # A heartbeat that arrives is itself proof the link works: report the mode as of now.
        body["mode"] = self._mode(True)
        try:
            answer = self.hq.heartbeat(body)
        except HQRefused as exc:
            self.hq_refused(str(exc))
            self._hq_answered()
            return False
        except HQUnavailable as exc:
            self.link_failed(str(exc))
            return False
        self.hq_refusal = ""
        self.apply_hq_settings(answer)
        self._hq_answered()
        return True

    def hq_refused(self, error: str) -> None:
        """HQ answered but refused what the agent sent: HQ is reachable, the request is
        wrong. Logged (once per new reason; HQ's reason names fields, not their values) and
        shown on the status page; the link is not marked down for it."""
        if error != self.hq_refusal:
            log.error("%s", error)
            self.journal.log(error[:200])
        self.hq_refusal = error

    def _hq_answered(self) -> None:
        if not self.forced_offline:
            was_offline = not self.online
            self.link_ok()
            if was_offline and self.journal.queued:
                self.forwarder.send_now()

    def apply_hq_settings(self, answer: dict) -> None:
        if isinstance(answer.get("card_policy"), dict):
            policy = CardPolicy.from_dict(answer["card_policy"])
            if policy != self.policy:
                self.journal.put("card_policy", policy.as_dict())
            self._policy = policy
        if isinstance(answer.get("sales_limits"), dict):
            limits = PerSaleLimits.from_dict(answer["sales_limits"])
            if limits != self.sales_limits:
                self.journal.put("sales_limits", limits.as_dict())
            self._limits = limits
        if isinstance(answer.get("program"), dict):
            program = Program.from_dict(answer["program"])
            if program != self.program:
                self.journal.put("program", answer["program"])
            self._program = program

    def register(self) -> bool:
        try:
            answer = self.hq.register(
                {"store": self.config.store, "agent_id": self.agent_id, "version": VERSION}
            )
        except HQRefused as exc:
            self.hq_refused(str(exc))
            return False
        except HQUnavailable as exc:
            self.link_failed(str(exc))
            return False
        self.apply_hq_settings(answer)
        return True

    def _heartbeats(self) -> None:
        self.register()
        pruned_at = 0.0
        while not self._stop.is_set():
            self.journal.now()  # notes the highest wall clock seen (card ages, journal.now)
            self.heartbeat()
            if self.config.keep_days > 0 and time.time() - pruned_at >= PRUNE_EVERY_SECONDS:
                pruned_at = time.time()
                try:
                    self.journal.prune(pruned_at - self.config.keep_days * 86400)
                except sqlite3.Error as exc:  # a full disk: heartbeats go on, try next hour
                    log.warning("could not delete old sales from the journal: %s", exc)
            self._stop.wait(self.config.heartbeat_seconds)
