"""The store agent itself: accept sales (``accepting.py``), keep the link's state, send
heartbeats (``heartbeats.py``).

``Agent`` is used the same way by ``tideover agent run`` (with its HTTP server, see
``server.py``), by tests and by the demo (in-process agents for most stores).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime

from tideover.agent import VERSION
from tideover.agent.accepting import (  # noqa: F401 - the answers are named here too
    ACCEPTED,
    DRAINING,
    DUPLICATE,
    FORCED,
    OFFLINE,
    ONLINE,
    REFUSED,
    Answer,
    SaleIntake,
)
from tideover.agent.config import AgentConfig
from tideover.agent.forwarder import Forwarder
from tideover.agent.heartbeats import HeartbeatLink
from tideover.agent.hq import HQClient, HQUnavailable
from tideover.agent.journal import Journal
from tideover.agent.manager import ManagerActions
from tideover.agent.policy import CardPolicy, Program, rewards_unlocked
from tideover.sales.caps import PerSaleLimits
from tideover.sales.schemas import member_key

log = logging.getLogger("tideover.agent")


class Agent(SaleIntake, HeartbeatLink, ManagerActions):
    def __init__(self, config: AgentConfig, *, transport=None):
        self.config = config
        self.journal = Journal(config.database)
        self.hq = HQClient(
            config.hq, config.token, timeout=config.hq_timeout_seconds, transport=transport
        )
        self.agent_id = self.journal.get("agent_id") or f"{config.store}-{uuid.uuid4().hex[:12]}"
        self.journal.put("agent_id", self.agent_id)
        self.forwarder = Forwarder(self)
        self.online = False
        self.offline_since: float | None = self.journal.get("offline_since")
        if self.offline_since is not None and not _plausible(self.offline_since):
            self.offline_since = time.time()  # saved under a wrong clock: still offline, since now
            self.journal.put("offline_since", self.offline_since)
        self.link_error = ""
        self.hq_refusal = ""  # HQ answered but refused a heartbeat or registration: why
        self.forced_offline = bool(self.journal.get("forced_offline", False))
        self._pin_failures: dict[str, list[float]] = {}  # address -> wrong PINs' times
        self._pin_wrong: list[float] = []  # wrong PINs of the last hour, any address
        self._locks: dict[str, list[float]] | None = None  # manager.py; read when first needed
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._policy: CardPolicy | None = None  # cached; the journal keeps them across restarts
        self._program: Program | None = None
        self._limits: PerSaleLimits | None = None

    # --- the link to HQ -------------------------------------------------------------------
    def link_ok(self) -> None:
        if not self.online and self.offline_since is not None:
            log.info("HQ reachable again after %.0f s", time.time() - self.offline_since)
        self.online = True
        self.link_error = ""
        if self.offline_since is not None:
            self.offline_since = None
            self.journal.put("offline_since", None)

    def link_failed(self, error: str) -> None:
        if self.online or self.offline_since is None:
            log.warning("HQ not reachable: %s", error)
        self.online = False
        self.link_error = error
        now = time.time()
        # A start time from a clock that was wrong (a box booted in 1970, before NTP) is reset
        # once the clock looks right: the outage is still under way, its start is unknown.
        if self.offline_since is None or (not _plausible(self.offline_since) and _plausible(now)):
            self.offline_since = now
            self.journal.put("offline_since", self.offline_since)

    @property
    def mode(self) -> str:
        return self._mode(self.online)

    def _mode(self, online: bool) -> str:
        if self.forced_offline:
            return FORCED
        if not online:
            return OFFLINE
        oldest = self.journal.oldest_unsent() if self.journal.queued else None
        if oldest and (
            self.journal.queued > self.config.batch_size or time.time() - oldest[1] > 10
        ):
            return DRAINING
        return ONLINE

    @property
    def policy(self) -> CardPolicy:
        if self._policy is None:
            self._policy = CardPolicy.from_dict(self.journal.get("card_policy"))
        return self._policy

    @property
    def sales_limits(self) -> PerSaleLimits:
        if self._limits is None:
            self._limits = PerSaleLimits.from_dict(self.journal.get("sales_limits"))
        return self._limits

    @property
    def program(self) -> Program:
        if self._program is None:
            self._program = Program.from_dict(self.journal.get("program"))
        return self._program

    # --- provisional balances -------------------------------------------------------------
    def balance(self, member_id: str, *, ask_hq: bool = True) -> dict:
        """The member's last known HQ balance plus the points of sales still queued here
        (the id in any case, as registers send it: HQ keeps it upper-case)."""
        member_id = member_key(member_id)
        hq_view = None
        if ask_hq and self.online and not self.forced_offline:
            try:
                hq_view = self.hq.balance(member_id)
            except HQUnavailable as exc:
                self.link_failed(str(exc))
            if hq_view is not None:
                self.journal.remember_balance(
                    member_id, int(hq_view["balance"]), hq_view.get("tier")
                )
        known, as_of, queued = self.journal.member(member_id)
        base = known or 0
        provisional = base + queued
        threshold = self.program.reward_threshold
        return {
            "loyalty_id": member_id,
            "balance": provisional,
            "provisional": True,
            "hq_balance": known,
            "hq_balance_at": _iso(as_of),
            "queued_points": queued,
            "rewards_unlocked": rewards_unlocked(base, provisional, threshold),
            "next_reward_in_points": threshold - provisional % threshold
            if provisional >= 0
            else threshold - provisional,
            "known_at_store": known is not None,
            # HQ's posting is the truth: how far the estimates of posted sales were off.
            "hq_minus_estimate_points": self.journal.estimate_difference(member_id),
            "pending_rewards": (hq_view or {}).get("pending_rewards", []),
        }

    def sale_state(self, sale_id: str) -> dict | None:
        """One sale as this agent holds it (what a register or staff can ask about)."""
        state = self.journal.sale_state(sale_id)
        if state is None:
            return None
        return {
            "sale_id": sale_id,
            **state,
            "accepted_at": _iso(state["accepted_at"]),
            "settled_at": _iso(state["settled_at"]),
            "retry_at": _iso(state["retry_at"]),
            "dealt_at": _iso(state["dealt_at"]),
        }

    # --- heartbeats -----------------------------------------------------------------------
    def status(self) -> dict:
        """What staff and HQ see: mode, queue, exposure, last sync, problems."""
        oldest = self.journal.oldest_unsent() if self.journal.queued else None
        with self.journal.lock:
            exposure = self.journal.exposure()
        last_sync = self.journal.get("last_sync_at")
        problems = self.journal.problems()
        return {
            "store": self.config.store,
            "agent_id": self.agent_id,
            "version": VERSION,
            "mode": self.mode,
            "online": self.online,
            "forced_offline": self.forced_offline,
            "offline_since": _iso(self.offline_since),
            "link_error": self.link_error,
            "hq_refusal": self.hq_refusal,
            "queue_depth": self.journal.queued,
            "quarantined": problems["counts"].get("quarantined", 0),
            "oldest_unsent_at": oldest[0] if oldest else None,
            "card_exposure_cents": exposure.total_cents,
            "card_count": exposure.count,
            "last_sync_at": _iso(last_sync),
            "next_try_at": _iso(self.forwarder.next_try_at),
            "policy": self.policy.as_dict(),
            "problems": problems,
            "log": [{"at": _iso(at), "what": what} for at, what in self.journal.recent_log()],
        }

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Start forwarding and heartbeats in background threads."""
        for name, target in (("forwarder", self.forwarder.run), ("heartbeat", self._heartbeats)):
            thread = threading.Thread(target=target, name=f"agent-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.forwarder.stop.set()
        self.forwarder.wake.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self.forwarder.close()
        self.hq.close()
        self.journal.close()


# Before this the clock is wrong (the agent did not exist); a day ahead of now it is a guess.
PLAUSIBLE_FROM = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _plausible(ts: float) -> bool:
    return PLAUSIBLE_FROM <= ts <= time.time() + 86400


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
