"""The store agent itself: accept sales, keep the link's state, send heartbeats.

``Agent`` is used the same way by ``tideover agent run`` (with its HTTP server, see
``server.py``), by tests and by the demo (in-process agents for most stores).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from tideover.agent import VERSION
from tideover.agent.config import AgentConfig
from tideover.agent.forwarder import Forwarder
from tideover.agent.heartbeats import HeartbeatLink
from tideover.agent.hq import HQClient, HQUnavailable
from tideover.agent.journal import Journal, NewSale, Ticket
from tideover.agent.manager import ManagerActions
from tideover.agent.policy import (
    CardPolicy,
    Program,
    card_offline_cents,
    check_card,
    provisional_points,
    rewards_unlocked,
)
from tideover.agent.store import member_key
from tideover.sales.caps import PerSaleLimits
from tideover.sales.caps import refusal as per_sale_refusal
from tideover.sales.schemas import SaleIn, content_hash, hash_as_sent

log = logging.getLogger("tideover.agent")

ACCEPTED, DUPLICATE, REFUSED = "accepted", "duplicate", "refused"
ONLINE, OFFLINE, DRAINING, FORCED = "online", "offline", "draining", "forced_offline"
NOT_SAVED = "The store agent could not save this sale; send it again"
NO_ID = "0-pending"  # stands in for a missing sale_id until the agent makes one
NEED_ID = (
    "Send a sale_id made at the register (or at least the register's code): without either "
    "the agent cannot tell a resend of this sale from a new one"
)


@dataclass
class Answer:
    """What the agent did with one sale; the register shows ``reason`` when refused."""

    sale_id: str
    result: str
    reason: str | None = None
    points: int | None = None
    balance: int | None = None
    provisional: bool = True
    rewards_unlocked: int = 0
    online: bool = False
    mode: str = OFFLINE
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies every field, a tenth of the CPU of a sale.
        return {
            "sale_id": self.sale_id,
            "result": self.result,
            "reason": self.reason,
            "points": self.points,
            "balance": self.balance,
            "provisional": self.provisional,
            "rewards_unlocked": self.rewards_unlocked,
            "online": self.online,
            "mode": self.mode,
            "notes": list(self.notes),
        }


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error.get("loc", ()))
        message = error.get("msg", "invalid value").removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class Agent(HeartbeatLink, ManagerActions):
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

    # --- accepting sales ------------------------------------------------------------------
    def _sale_id_for(self, sale: SaleIn) -> SaleIn:
        """A sale the register sent without an id gets one made from what identifies it at the
        register (store, register, when it happened, lines, tenders, member, everything it
        sent), so a resend of it after a lost answer gets the same id and is a duplicate, not
        a second sale."""
        sale_id = self._made_id(sale)
        sent = sale._member_id_as_sent
        if sent is not None and sent != sale.member_id:
            # Agents before loyalty ids were upper-cased made the id from the member as typed:
            # a resend of a sale one of them accepted must find that id, not make a new one.
            before = self._made_id(sale.model_copy(update={"member_id": sent}))
            with self.journal.lock:
                if self.journal.existing_hash(before) is not None:
                    sale_id = before
        return sale.model_copy(update={"sale_id": sale_id})

    def _made_id(self, sale: SaleIn) -> str:
        made = hashlib.sha256(sale.model_dump_json(exclude={"sale_id"}).encode()).hexdigest()
        return f"{self.config.store}-A{made[:32]}"

    def accept(self, items: list) -> list[Answer]:
        """Validate, apply the card policy and store the sales in one synced commit; one answer
        per sale, in order. Nothing is answered "accepted" before it is on disk."""
        answers: list[Answer | None] = [None] * len(items)
        parsed: list[tuple[int, SaleIn]] = []
        limits = self.sales_limits
        for index, item in enumerate(items):
            without_id = False
            if isinstance(item, dict):
                item = dict(item)
                if not item.get("sale_id"):
                    without_id, item["sale_id"] = True, NO_ID
                item.setdefault("store", self.config.store)
            sale_id = str(item.get("sale_id", ""))[:64] if isinstance(item, dict) else ""
            try:
                sale = SaleIn.model_validate(item)
            except ValidationError as exc:
                answers[index] = Answer("" if without_id else sale_id, REFUSED, describe(exc))
                continue
            if without_id:
                if not sale.register_code:
                    # Two registers can ring the same basket in the same second: without the
                    # register's code a resend and a second sale look alike.
                    answers[index] = Answer("", REFUSED, NEED_ID)
                    continue
                sale = self._sale_id_for(sale)
            if sale.store != self.config.store:
                answers[index] = Answer(
                    sale.sale_id,
                    REFUSED,
                    f"This agent serves store {self.config.store}; sale is from {sale.store}",
                )
                continue
            over = per_sale_refusal(sale, limits)  # HQ would reject it, in these words
            if over:
                answers[index] = Answer(sale.sale_id, REFUSED, over)
                continue
            parsed.append((index, sale))
        parsed_ids = {index: sale.sale_id for index, sale in parsed}
        program, policy = self.program, self.policy
        # Told to HQ with the sale (recovery counts its customer as affected): a failure of the
        # link is under way (``offline_since``, kept across restarts) or a manager forced it.
        taken_offline = self.forced_offline or self.offline_since is not None
        # Copies of sales still waiting for a commit (this request's or another's): answered
        # once that commit's outcome is known, never "duplicate" before it is durable.
        copies: list[tuple[int, bool, Ticket | None]] = []
        with self.journal.lock:
            exposure = self.journal.exposure()
            new: list[NewSale] = []
            seen: dict[str, str] = {}
            for index, sale in parsed:
                digest = content_hash(sale)
                if sale.sale_id in seen:
                    copies.append((index, seen[sale.sale_id] == digest, None))
                    continue
                waiting = self.journal.pending(sale.sale_id)
                if waiting is not None:
                    copies.append((index, waiting[0] == digest, waiting[1]))
                    continue
                prior = self.journal.existing_hash(sale.sale_id)
                if prior is not None:
                    # Stored before loyalty ids were upper-cased, it was hashed as sent.
                    same = prior in (digest, hash_as_sent(sale))
                    answers[index] = _answer_to_copy(sale.sale_id, same)
                    continue
                card = card_offline_cents(sale)
                refusal = check_card(card, policy, exposure)
                if refusal:
                    answers[index] = Answer(sale.sale_id, REFUSED, refusal)
                    continue
                if card:
                    exposure.count += 1
                    exposure.total_cents += card
                    if exposure.oldest_age_seconds is None:
                        exposure.oldest_age_seconds = 0.0
                tier = self.journal.tier(sale.member_id) if sale.member_id else None
                points = provisional_points(sale, program, tier)
                seen[sale.sale_id] = digest
                new.append(
                    NewSale(
                        sale_id=sale.sale_id,
                        hash=digest,
                        payload=sale.model_dump_json(by_alias=True),
                        occurred_at=sale.occurred_at.isoformat(),
                        member_id=sale.member_id,
                        points=points,
                        card_offline_cents=card,
                        offline=taken_offline,
                    )
                )
                answers[index] = Answer(sale.sale_id, ACCEPTED, points=points)
            ticket = self.journal.enqueue(new)
        stored = self.journal.outcome(ticket)  # the synced commit: only now say "accepted"
        if stored is not None:
            log.error("sales could not be stored: %s", stored)
            for answer in answers:
                if answer is not None and answer.result == ACCEPTED:
                    answer.result = REFUSED
                    answer.points = None
                    answer.reason = NOT_SAVED
        for index, same, other in copies:
            sale_id = parsed_ids[index]
            failed = stored if other is None else self.journal.outcome(other)
            answers[index] = (
                Answer(sale_id, REFUSED, NOT_SAVED) if failed else _answer_to_copy(sale_id, same)
            )
        members = {s.sale_id: s.member_id for _, s in parsed if s.member_id}
        online, mode = self.online and not self.forced_offline, self.mode
        for answer in answers:
            answer.online, answer.mode = online, mode
            member = members.get(answer.sale_id)
            if member and answer.result != REFUSED:
                view = self.balance(member, ask_hq=False)
                answer.balance = view["balance"]
                answer.rewards_unlocked = view["rewards_unlocked"]
        if new and online:
            self.forwarder.wake.set()
        return answers  # type: ignore[return-value]

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


def _answer_to_copy(sale_id: str, same: bool) -> Answer:
    """The answer to a sale id already durably stored: the same sale is a duplicate (accepted
    before, same effect); a different one must get a new id."""
    if same:
        return Answer(sale_id, DUPLICATE)
    return Answer(
        sale_id,
        REFUSED,
        "This sale id was already used for a different sale; give this sale a new id",
    )


# Before this the clock is wrong (the agent did not exist); a day ahead of now it is a guess.
PLAUSIBLE_FROM = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _plausible(ts: float) -> bool:
    return PLAUSIBLE_FROM <= ts <= time.time() + 86400


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
