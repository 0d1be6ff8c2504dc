"""Accepting sales from registers: validate each, make an id for a sale sent without one,
apply the card policy and per-sale limits, store them in one synced commit (``journal.py``) and
answer each, never "accepted" before it is on disk. Mixed into ``service.Agent``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from tideover.agent.journal import NewSale, Ticket
from tideover.agent.policy import card_offline_cents, check_card, provisional_points
from tideover.sales.caps import refusal as per_sale_refusal
from tideover.sales.schemas import SaleIn, content_hash, describe_errors, hash_as_sent

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


class SaleIntake:
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
                answers[index] = Answer(
                    "" if without_id else sale_id, REFUSED, describe_errors(exc)
                )
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
