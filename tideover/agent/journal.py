"""The agent's durable queue: one SQLite file in WAL mode with ``synchronous=FULL``.

Protocol (what a crash leaves behind):

1. **Accept**: the sale is inserted and the transaction committed (WAL fsync'd) *before* the
   register hears "accepted". A SIGKILL or power cut after the answer finds the sale on disk,
   ``queued``. One before the commit leaves nothing, and the register, which heard nothing,
   sends it again (the sale id makes that safe). Sales arriving together from several
   registers share one commit (group commit: whoever finds no commit running writes everything
   waiting, the others wait for it), so a slow fsync is paid once per group, not per sale.
   Until their commit is done, waiting sales count for card-limit checks; a copy of one (a
   resend on another connection, or twice in one batch) is stored no second time and waits
   for that commit: "duplicate" if it is durable, "send again" if it failed. Nobody hears
   "duplicate" for a sale that is not on disk.
2. **Forward**: the oldest ``queued`` sales are read and sent to HQ as stored (the JSON bytes
   the register's sale validated to, so HQ's content hash is the same on every resend).
3. **Settle**: HQ's per-sale results are written in one transaction: ``posted`` (HQ's
   duplicate is also posted), ``conflict`` or ``rejected`` with HQ's reason. A crash between
   HQ's commit and ours leaves the sales ``queued``; they are sent again and HQ answers
   ``duplicate``: posted once. This commit is not synced (``synchronous=NORMAL``, its own
   connection): a power cut may undo it, with the same outcome, and the drain saves an fsync
   per batch. The next synced commit of accepted sales makes it durable anyway (one WAL).
4. **Quarantine**: a sale HQ answers with a server error every time, alone, while HQ answers
   other requests, is set aside (``quarantined``, with the reason) after a few tries so the
   sales behind it drain; it is tried again, alone, every so often (``retry_at``) and settled
   like any other once HQ digests it. It still counts as unsent (card exposure, points).

Conflicting, rejected and quarantined sales stay in the file for staff until a manager marks
them dealt with. Posted sales, dealt-with ones and log lines older than ``keep_days`` are
deleted (``prune``): nothing unsent or waiting for staff ever is.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tideover.agent.members import MemberMemory
from tideover.agent.quarantine import QuarantineQueue
from tideover.agent.staffview import QUARANTINED, StaffView  # noqa: F401 - the states live here
from tideover.agent.store import MEMBER_UPSERT, connect, create_or_upgrade

QUEUED, POSTED, CONFLICT, REJECTED = "queued", "posted", "conflict", "rejected"
MAX_STEP_BACK = 86400  # a highest-clock mark further ahead than this is a wrong clock's
KV_UPSERT = (
    "INSERT INTO kv (key, value) VALUES (?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


@dataclass
class NewSale:
    sale_id: str
    hash: str
    payload: str  # JSON
    occurred_at: str
    member_id: str | None
    points: int
    card_offline_cents: int
    offline: bool = False  # accepted while HQ could not be reached (or forced offline)


@dataclass
class Ticket:
    """Sales waiting for a group commit; ``done`` once durable (or ``error`` if not stored)."""

    sales: list[NewSale]
    done: bool = False
    error: BaseException | None = None


@dataclass
class Exposure:
    """The unsent offline card sales: what the card policy limits."""

    count: int
    total_cents: int
    oldest_age_seconds: float | None  # how long ago the oldest was accepted (see age())


class Journal(MemberMemory, QuarantineQueue, StaffView):
    """The queue and the agent's small memory (last known balances, policy, log).

    One connection, used under a lock: SQLite has one writer anyway, and the lock makes the
    card policy's check-then-insert atomic.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn = connect(self.path)
        self.writer = connect(self.path)  # group commits only; everything else uses conn
        # HQ's results: not synced at commit (a later synced commit takes them along). A power
        # cut may lose the last of them; those sales are then sent again and HQ answers
        # "duplicate": still posted once, so an fsync per batch would buy nothing.
        self.settler = connect(self.path, synchronous="NORMAL")
        self.lock = threading.RLock()
        self._group = threading.Condition()
        self._waiting: list[Ticket] = []
        self._committing = False
        # sale_id -> (hash, ticket): enqueued but not yet durable. Not an answer by itself: a
        # copy of such a sale waits for that ticket's outcome (see :meth:`pending`).
        self._pending: dict[str, tuple[str, Ticket]] = {}
        self._pending_card: list[int] = []  # their offline card amounts
        # Card sales' ages: the monotonic clock at accept, for those accepted in this run (a
        # wall-clock step cannot change it), and the highest wall clock seen (kept across
        # restarts), so a step back never makes an earlier sale look younger than it was.
        self._card_mono: dict[str, float] = {}
        self._high = 0.0
        self._high_saved = 0.0
        with self.lock:
            create_or_upgrade(self.conn)
            self._queued = self.conn.execute(
                "SELECT COUNT(*) FROM sales WHERE state = 'queued'"
            ).fetchone()[0]
        high = self.get("clock_high") or 0.0
        # A mark over a day ahead was left by a clock set wrong forward: forgotten, or every
        # time would freeze there until the calendar caught up.
        self._high = self._high_saved = high if high <= time.time() + MAX_STEP_BACK else 0.0

    def now(self) -> float:
        """The wall clock, never below the highest it has read (kept across restarts, saved at
        most once a minute): what accept times and card ages are measured with."""
        wall = time.time()
        if wall <= self._high:
            return self._high
        self._high = wall
        if wall - self._high_saved >= 60:
            self._high_saved = wall
            self.put("clock_high", wall)
        return wall

    def close(self) -> None:
        with self.lock:
            self.conn.close()
            self.writer.close()
            self.settler.close()

    # --- accept -------------------------------------------------------------------------
    def existing_hash(self, sale_id: str) -> str | None:
        """The content hash of a sale id durably accepted (committed), else None."""
        row = self.conn.execute("SELECT hash FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()
        return row[0] if row else None

    def pending(self, sale_id: str) -> tuple[str, Ticket] | None:
        """(hash, ticket) of a sale id waiting for its group commit, else None. Call with
        ``lock`` held. Its commit may still fail, so a copy must wait for the ticket
        (:meth:`outcome`) before it is told anything."""
        return self._pending.get(sale_id)

    def outcome(self, ticket: Ticket) -> BaseException | None:
        """Wait for another request's ticket; None once its sales are durable, else why not."""
        try:
            self.wait_durable(ticket)
        except Exception as exc:
            return exc
        return None

    def enqueue(self, sales: list[NewSale]) -> Ticket:
        """Reserve sales for the next group commit. Call with ``lock`` held (after the checks),
        then :meth:`wait_durable` without it."""
        ticket = Ticket(sales)
        for sale in sales:
            self._pending[sale.sale_id] = (sale.hash, ticket)
            if sale.card_offline_cents:
                self._pending_card.append(sale.card_offline_cents)
                self._card_mono[sale.sale_id] = time.monotonic()
        with self._group:
            self._waiting.append(ticket)
        return ticket

    def wait_durable(self, ticket: Ticket) -> None:
        """Return once the ticket's sales are committed; raise if they could not be stored."""
        with self._group:
            while not ticket.done:
                if self._committing:
                    self._group.wait()
                    continue
                self._committing = True
                group, self._waiting = self._waiting, []
                self._group.release()
                try:
                    error = self._commit([s for t in group for s in t.sales])
                finally:
                    self._group.acquire()
                    self._committing = False
                for member in group:
                    member.done, member.error = True, error
                self._group.notify_all()
        if ticket.error is not None:
            raise ticket.error

    def insert(self, sales: list[NewSale]) -> None:
        """Store sales durably (enqueue and wait); for callers without checks to make."""
        if not sales:
            return
        with self.lock:
            ticket = self.enqueue(sales)
        self.wait_durable(ticket)

    def _commit(self, sales: list[NewSale]) -> BaseException | None:
        if not sales:
            return None
        now = self.now()
        error = None
        try:
            self._write(sales, now)
        except Exception as exc:  # every waiting register hears "not stored, send again"
            error = exc
        with self.lock:
            for sale in sales:
                self._pending.pop(sale.sale_id, None)
                if sale.card_offline_cents:
                    self._pending_card.remove(sale.card_offline_cents)
                    if error is not None:
                        self._card_mono.pop(sale.sale_id, None)
            if error is None:
                self._queued += len(sales)
        return error

    def _write(self, sales: list[NewSale], now: float) -> None:
        self.writer.execute("BEGIN IMMEDIATE")
        try:
            self.writer.executemany(
                "INSERT INTO sales (sale_id, hash, payload, occurred_at, accepted_at, member_id,"
                " points, card_offline_cents, accepted_offline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.sale_id,
                        s.hash,
                        s.payload,
                        s.occurred_at,
                        now,
                        s.member_id,
                        s.points,
                        s.card_offline_cents,
                        int(s.offline),
                    )
                    for s in sales
                ],
            )
            self.writer.execute("COMMIT")
        except BaseException:
            self.writer.execute("ROLLBACK")
            raise

    def exposure(self) -> Exposure:
        """Unsent offline card sales, those waiting for their commit included. Call with
        ``lock`` held."""
        count, total = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(card_offline_cents), 0) FROM sales"
            " WHERE state IN ('queued', 'quarantined') AND card_offline_cents > 0"
        ).fetchone()
        oldest = self.conn.execute(  # the first accepted: lowest seq, whatever the clock said
            "SELECT sale_id, accepted_at FROM sales WHERE state IN ('queued', 'quarantined')"
            " AND card_offline_cents > 0 ORDER BY seq LIMIT 1"
        ).fetchone()
        if oldest is not None:
            age = self.now() - oldest[1]
            if oldest[0] in self._card_mono:
                age = max(age, time.monotonic() - self._card_mono[oldest[0]])
        else:
            age = 0.0 if self._pending_card else None
            if not self._pending_card:
                self._card_mono.clear()  # none unsent: no age to keep
        return Exposure(count + len(self._pending_card), total + sum(self._pending_card), age)

    # --- forward ------------------------------------------------------------------------
    def oldest_queued(self, limit: int) -> list[tuple[int, str, str]]:
        """(seq, sale_id, payload) of the oldest queued sales, oldest first."""
        return self.queued_after(0, limit)

    def queued_after(self, seq: int, limit: int) -> list[tuple[int, str, str]]:
        """(seq, sale_id, payload) of the oldest queued sales after ``seq`` (the sales behind
        a batch still in flight), oldest first."""
        with self.lock:
            return self.conn.execute(
                "SELECT seq, sale_id, payload FROM sales WHERE state = 'queued' AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()

    def accepted_offline(self, seqs: list[int]) -> list[str]:
        """The sale ids among ``seqs`` that were accepted while HQ could not be reached."""
        if not seqs:
            return []
        marks = ", ".join("?" * len(seqs))
        with self.lock:
            return [
                row[0]
                for row in self.conn.execute(
                    f"SELECT sale_id FROM sales WHERE seq IN ({marks})"  # noqa: S608
                    " AND accepted_offline = 1 ORDER BY seq",
                    seqs,
                )
            ]

    def settle(
        self, results: list[dict], seqs: dict[str, int], *, was: str = QUEUED
    ) -> tuple[dict[str, int], set[str]]:
        """Write HQ's per-sale results in one transaction; returns the counts per local state
        and the members whose balance it wrote (the forwarder asks HQ again for those also in
        a batch that was in flight beside this one). ``was``: the state the sales were sent
        from (queued, or quarantined when retried)."""
        now = time.time()
        counts = {POSTED: 0, CONFLICT: 0, REJECTED: 0}
        balances: dict[int, tuple] = {}
        members: dict[int, str] = {}
        updates = []
        for result in results:
            seq = seqs.get(result.get("sale_id"))
            if seq is None:
                continue
            kind = result.get("result")
            state = {"posted": POSTED, "duplicate": POSTED, "conflict": CONFLICT}.get(
                kind, REJECTED
            )
            counts[state] += 1
            updates.append((state, result.get("reason"), result.get("points"), now, seq))
            if result.get("balance") is not None:
                balances[seq] = (result["balance"], result.get("tier"))
        with self.lock:
            self.settler.execute("BEGIN IMMEDIATE")
            try:
                settled = self.settler.executemany(
                    "UPDATE sales SET state = ?, reason = ?, hq_points = ?, settled_at = ?,"
                    " attempts = attempts + 1, retry_at = NULL WHERE seq = ? AND state = ?",
                    [(*u, was) for u in updates],
                ).rowcount
                if balances:
                    members = dict(
                        self.settler.execute(
                            # Only "?" placeholders are formatted in; the values are bound.
                            f"SELECT seq, member_id FROM sales WHERE seq IN "  # noqa: S608
                            f"({','.join('?' * len(balances))}) AND member_id IS NOT NULL",
                            list(balances),
                        ).fetchall()
                    )
                    self.settler.executemany(
                        MEMBER_UPSERT,
                        [(members[s], *balances[s], now) for s in sorted(balances) if s in members],
                    )
                if updates:  # what staff see as "last sent to HQ", in the same commit
                    self.settler.execute(KV_UPSERT, ("last_sync_at", json.dumps(now)))
                self.settler.execute("COMMIT")
            except BaseException:
                self.settler.execute("ROLLBACK")
                raise
            # Counted down, not recounted: a count over a million queued rows per batch would
            # slow the drain of a long outage's backlog.
            if was == QUEUED:
                self._queued = max(0, self._queued - settled)  # never below zero
        return counts, set(members.values())

    def count_attempt(self, seqs: list[int]) -> None:
        with self.lock:
            self.conn.executemany(
                "UPDATE sales SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
            )

    # --- what staff and HQ see ----------------------------------------------------------
    @property
    def queued(self) -> int:
        return self._queued

    # --- small memory -------------------------------------------------------------------
    def get(self, key: str, default=None):
        with self.lock:
            row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key: str, value) -> None:
        with self.lock:
            self.conn.execute(KV_UPSERT, (key, json.dumps(value)))

    def log(self, what: str) -> None:
        with self.lock:
            self.conn.execute("INSERT INTO log (at, what) VALUES (?, ?)", (time.time(), what))

    def prune(self, before: float, batch: int = 5000) -> int:
        """Delete posted sales settled, and dealt-with ones dealt with, before ``before`` (a
        time), and log lines from before it, a batch per transaction so sales keep being
        accepted meanwhile. Returns the sales deleted."""
        deleted = 0
        while True:
            with self.lock:
                gone = self.conn.execute(
                    "DELETE FROM sales WHERE seq IN (SELECT seq FROM sales WHERE"
                    " (state = 'posted' AND settled_at < ?) OR dealt_at < ? LIMIT ?)",
                    (before, before, batch),
                ).rowcount
            deleted += gone
            if gone < batch:
                break
        with self.lock:
            self.conn.execute("DELETE FROM log WHERE at < ?", (before,))
        return deleted

    def recent_log(self, limit: int = 20) -> list[tuple[float, str]]:
        with self.lock:
            return self.conn.execute(
                "SELECT at, what FROM log ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
