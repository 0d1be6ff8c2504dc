"""Sending queued sales to HQ: oldest first, in batches, forever, with backoff and jitter.

Each batch goes to HQ's ``sales:batch`` as stored and each sale is settled by its own result
(``journal.Journal.settle``): a rejected or conflicting sale is kept for staff and the sales
behind it go on. When HQ does not answer, the wait before the next try grows (0.5 s, 1 s, 2 s,
... up to ``backoff_max_seconds``) and half of it is drawn at random ("equal jitter"), so 150
stores coming back together do not hit HQ in lockstep. ``send_now`` skips the wait.

A poison sale (one HQ answers with a server error every time) must not hold the queue: HQ's
``sales:batch`` answers per sale, but a 500 fails the whole batch, so a failing batch is halved
for the next try (bisection; each success doubles it again), which posts everything before the
culprit and ends with it alone. A sale that fails alone is counted, but only when HQ answered
something else since its last failure (a heartbeat, another batch): when HQ itself is broken,
nothing is blamed. After ``quarantine_after`` counted failures the sale is quarantined
(``journal.Journal.quarantine``): shown to staff, tried again alone every
``quarantine_retry_seconds``, and the sales behind it go on, except a return or void of it:
that stays queued until its original is settled (HQ would reject it for good).

Two requests in flight (``in_flight``): while HQ works on one batch the next is already on its
way, so HQ parses one while it commits the other, and the agent settles one while HQ works on
the next. The two may commit at HQ in either order, which matters for one thing only: a return
or void must reach HQ after the sale it undoes (HQ rejects it otherwise). So a batch is cut
before the first sale that undoes a sale still in flight; that sale leads the next batch,
sent once HQ has answered for its original. Each answer carries the balances of the batch's
members after that batch, and the answers are written in the order sent: for a member with
sales in two batches in flight at once, the one written last may be the older balance, so once
both are settled the agent asks HQ for that member's balance (``stale_balances``; kept for the
next round when HQ does not answer). After a failure nothing more is sent until every
batch in flight is answered (and those answers settled); the next round starts again from the
oldest queued sale. Pipelining is used only at full batch size: while bisecting a failing
batch, one request at a time, as before. One round at a time (``sending``): "send now" waits
for a round of the background loop instead of sending the same sales beside it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from tideover.agent.hq import HQUnavailable, hq_json, hqs_own
from tideover.agent.journal import QUARANTINED

log = logging.getLogger("tideover.agent")

# Batches per round: the round ends (and "send now" or a stop gets its turn) after this many.
ROUND_BATCHES = 20
BALANCES_PER_REQUEST = 200  # HQ's limit for GET /loyalty/balances


class Backoff:
    def __init__(self, base: float, cap: float, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.failures = 0
        self.rng = rng or random.Random()

    def next_wait(self) -> float:
        """Seconds to wait after one more failure."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        # Half fixed, half random: never a busy loop, never two stores in step.
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0


@dataclass(eq=False)
class _Batch:
    """A batch sent to HQ and not yet settled."""

    rows: list[tuple[int, str, str]]
    future: Future | None
    beside: list[_Batch]  # the batches still in flight when this one was sent
    members: set[str] = field(default_factory=set)  # whose balance its answer wrote


class Forwarder:
    def __init__(self, agent, *, idle_seconds: float = 1.0):
        self.agent = agent
        self.journal = agent.journal
        self.config = agent.config
        self.backoff = Backoff(self.config.backoff_base_seconds, self.config.backoff_max_seconds)
        self.batch_size = self.config.batch_size
        self.idle_seconds = idle_seconds
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.last_success_at: float | None = None
        self.last_error: str = ""
        self.next_try_at: float | None = None
        self._suspect: int | None = None  # seq of the sale that last failed alone
        self._suspect_failed_at = float("-inf")
        self.in_flight = self.config.in_flight
        self.sending = threading.Lock()  # one round at a time
        self._pool: ThreadPoolExecutor | None = None
        self.waited_seconds = 0.0  # spent waiting for HQ's answers (the bench reports it)
        # Members whose cached balance may be the older of two answers, to ask HQ for again.
        self.stale_balances: set[str] = set()
        self.balances_refreshed = 0  # asked for again so far (the bench reports it)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def send_now(self) -> None:
        """Forward at once instead of waiting for the next retry."""
        self.backoff.reset()
        self.wake.set()

    def forward_once(self) -> dict:
        """Send one batch of the oldest queued sales (after one quarantined sale whose next try
        is due); returns the counts. Raises HQUnavailable."""
        return self.forward_round(max_batches=1)

    def forward_round(self, max_batches: int = ROUND_BATCHES) -> dict:
        """Send up to ``max_batches`` batches of the oldest queued sales, ``in_flight`` at a
        time (after one quarantined sale whose next try is due), and settle each by HQ's
        results; returns the counts. Raises HQUnavailable (after settling what HQ answered)."""
        with self.sending:
            total = {"sent": self._retry_quarantined()}
            full = self.batch_size == self.config.batch_size > 1
            depth = self.in_flight if full else 1
            flight: deque[_Batch] = deque()
            after, batches, error = 0, 0, None
            while True:
                while (
                    error is None
                    and len(flight) < depth
                    and batches < max_batches
                    and not self.stop.is_set()
                ):
                    rows = self._next_rows(after, flight)
                    if not rows:
                        break
                    after, batches = rows[-1][0], batches + 1
                    flight.append(_Batch(rows, self._send(rows), beside=list(flight)))
                if not flight:
                    break
                batch = flight.popleft()
                try:
                    counts, batch.members = self._outcome(batch.rows, batch.future)
                except Exception as exc:  # settle what is in flight, then raise the first
                    error = error or exc
                    continue
                finally:
                    batch.rows, batch.future = [], None  # from here on only its members matter
                for key, value in counts.items():
                    total[key] = total.get(key, 0) + value
                # Both answers are written now; either may hold the older balance.
                for other in batch.beside:
                    self.stale_balances |= batch.members & other.members
                batch.beside = []
                if error is None and (counts["sent"] or counts.get("unanswered")):
                    self.batch_size = min(self.config.batch_size, self.batch_size * 2)
                    self._succeeded()
                if error is None and self.stale_balances:
                    self._refresh_balances()
            if error is not None:
                raise error
            if self.stale_balances:  # HQ failed to answer for some of them last time
                self._refresh_balances()
            return total

    def _refresh_balances(self) -> None:
        """Ask HQ for the balances of the members whose sales were in two batches in flight
        at once (HQ has committed both by now) and keep them; those HQ does not answer for
        stay in ``stale_balances`` for the next round (in memory: after a restart the member's
        next answer from HQ puts it right)."""
        while self.stale_balances:
            asked = sorted(self.stale_balances)[:BALANCES_PER_REQUEST]
            try:
                views = self.agent.hq.balances(asked)
            except HQUnavailable as exc:
                # The count, not the loyalty ids: no personal data in logs.
                log.info("%d balances not refreshed yet: %s", len(self.stale_balances), exc)
                return
            for member_id in asked:  # a member HQ does not know keeps no balance to correct
                view = views.get(member_id.upper())
                if view is not None:
                    self.journal.remember_balance(member_id, int(view["balance"]), view["tier"])
                self.stale_balances.discard(member_id)
                self.balances_refreshed += 1

    def _send(self, rows: list[tuple[int, str, str]]) -> Future:
        """Post a batch: on the pool when batches overlap; with ``in_flight`` 1 in this thread
        (an agent inside HQ's own process, as a scenario replay runs them, must call HQ from
        the thread that holds HQ's database connection)."""
        if self.in_flight > 1:
            return self._executor().submit(self._post, rows)
        done: Future = Future()
        begun = time.perf_counter()
        try:
            done.set_result(self._post(rows))
        except Exception as exc:
            done.set_exception(exc)
        finally:
            # Here the wait for HQ happens in the send; _outcome then finds the answer ready.
            self.waited_seconds += time.perf_counter() - begun
        return done

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=max(1, self.in_flight), thread_name_prefix="agent-send"
            )
        return self._pool

    def _next_rows(self, after: int, flight: deque) -> list[tuple[int, str, str]]:
        """The next batch after seq ``after``, cut before the first return or void whose
        original sale is still in flight (it waits for that batch's answer), and without the
        returns and voids whose original is still waiting here otherwise (quarantined, or held
        back itself): HQ would reject them for good, so they stay queued until it is settled."""
        while True:
            rows = self.journal.queued_after(after, self.batch_size)
            batch, cut = self._without_waiting(rows, flight)
            if batch or cut or not rows:
                return batch
            after = rows[-1][0]  # every one of these waits for its original: look further

    def _without_waiting(self, rows: list, flight: deque) -> tuple[list, bool]:
        """(the rows that may go now, whether the batch was cut for one in flight)."""
        undoing = {row[1]: original for row in rows if (original := _original_of(row[2]))}
        if not undoing:
            return rows, False
        held = {sale_id for batch in flight for _, sale_id, _ in batch.rows}
        waiting = self.journal.unsettled(set(undoing.values()) - held)
        batch, here = [], set()
        for row in rows:
            original = undoing.get(row[1])
            if original in held:
                return batch, True
            if original in waiting and original not in here:
                continue  # its original is quarantined or held back: not before it
            batch.append(row)
            here.add(row[1])
        return batch, False

    def _post(self, rows: list[tuple[int, str, str]]):
        offline = self.journal.accepted_offline([seq for seq, _, _ in rows])
        return self.agent.hq.post_batch([payload for _, _, payload in rows], offline)

    def _outcome(self, rows: list[tuple[int, str, str]], future) -> tuple[dict, set[str]]:
        """Wait for HQ's answer to one batch and settle its sales; the counts and the members
        whose balance was written, or raises."""
        begun = time.perf_counter()
        try:
            response = future.result()
        except HQUnavailable as exc:
            if exc.status and exc.status >= 500:
                if len(rows) > 1:
                    # Bisect: the half with the culprit fails again, the other half posts.
                    self.batch_size = max(1, len(rows) // 2)
                elif self._blame(rows[0], exc.status):
                    return {"sent": 0, "quarantined": 1}, set()
            raise
        finally:
            self.waited_seconds += time.perf_counter() - begun
        if response.status_code in (400, 413) and self.batch_size > 1:
            # HQ's batch limit (400) or body limit (413, big sales) is lower than our batch.
            self.batch_size = max(1, min(self.batch_size, len(rows)) // 2)
            raise HQUnavailable(f"HQ asked for smaller batches: {response.text[:200]}")
        if response.status_code != 200:
            raise HQUnavailable(f"HQ answered {response.status_code}: {response.text[:200]}")
        seqs = {sale_id: seq for seq, sale_id, _ in rows}
        counts, members = self.journal.settle(hq_json(response, list, "results"), seqs)
        settled = sum(counts.values())
        if settled < len(rows):  # not settled: sent again, after a pause (run's backoff)
            log.warning(
                "HQ's answer had no result for %d of %d sales", len(rows) - settled, len(rows)
            )
        return {"sent": settled, **counts, "unanswered": len(rows) - settled}, members

    def _succeeded(self) -> None:
        """HQ answered a batch: the link works (what the background loop shows)."""
        self.backoff.reset()
        self.next_try_at = None
        self.last_error = ""
        self.last_success_at = time.time()
        self.agent.link_ok()

    def _blame(self, row: tuple[int, str, str], status: int) -> bool:
        """A sale sent alone got a server error: count it against the sale if HQ answered
        something else since its last failure; quarantine it after enough. True if it was."""
        seq, sale_id, _ = row
        now = time.monotonic()
        if seq == self._suspect and self.agent.hq.ok_at <= self._suspect_failed_at:
            self._suspect_failed_at = now  # HQ answered nothing since: HQ may be what fails
            return False
        self._suspect, self._suspect_failed_at = seq, now
        failures = self.journal.count_failure(seq)
        if failures < self.config.quarantine_after:
            return False
        minutes = self.config.quarantine_retry_seconds / 60
        reason = (
            f"HQ answered {status} each of the {failures} times this sale was sent alone, while "
            f"it answered others; set aside so the sales behind it go on, tried again every "
            f"{minutes:g} minutes. Call the help desk with the sale id."
        )
        if self.journal.quarantine(seq, reason, time.time() + self.config.quarantine_retry_seconds):
            self.journal.log(f"sale {sale_id} quarantined after {failures} server errors")
            log.warning("sale %s quarantined after %d server errors from HQ", sale_id, failures)
        self._suspect = None
        self.batch_size = self.config.batch_size
        return True

    def _retry_quarantined(self) -> int:
        """Send the quarantined sale whose next try is due most, alone; 1 if HQ settled it."""
        due = self.journal.due_quarantined(time.time())
        if not due:
            return 0
        seq, sale_id, payload = due[0]
        retry_at = time.time() + self.config.quarantine_retry_seconds
        try:
            response = self.agent.hq.post_batch([payload], self.journal.accepted_offline([seq]))
        except HQUnavailable as exc:
            if not exc.status or exc.status < 500:
                raise  # HQ out of reach: the usual backoff, the sale stays due
            self.journal.postpone(
                seq, f"HQ answered {exc.status} again; {_next(retry_at)}", retry_at
            )
            return 0
        if response.status_code != 200:
            if not hqs_own(response):  # a redirect, a portal's page: HQ out of reach, still due
                raise HQUnavailable(f"HQ not reached: answered {response.status_code}")
            self.journal.postpone(
                seq, f"HQ answered {response.status_code} again; {_next(retry_at)}", retry_at
            )
            return 0
        results = hq_json(response, list, "results")
        counts, _ = self.journal.settle(results, {sale_id: seq}, was=QUARANTINED)
        state = next((k for k, v in counts.items() if v), "?")
        self.journal.log(f"quarantined sale {sale_id} sent again: {state}")
        self._succeeded()
        return 1

    def drain(self) -> dict:
        """Forward until the queue is empty or HQ fails (used by ``sync`` and tests)."""
        total = {"sent": 0}
        while True:
            counts = self.forward_round()
            # Sales HQ left without a result are not counted as sent: a round of only those
            # ends the drain instead of sending them again and again.
            if not counts["sent"] and not counts.get("quarantined"):
                return total
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value

    def run(self) -> None:
        while not self.stop.is_set():
            if self.agent.forced_offline:
                self.wake.wait(self.idle_seconds)
                self.wake.clear()
                continue
            try:
                counts = self.forward_round()
            except HQUnavailable as exc:
                self.last_error = str(exc)
                self.agent.link_failed(str(exc))
                wait = self.backoff.next_wait()
                self.next_try_at = time.time() + wait
                self.wake.wait(wait)
                self.wake.clear()
                continue
            except Exception:  # a bug must not end forwarding for good
                log.exception("forwarding failed")
                self.wake.wait(self.backoff.next_wait())
                self.wake.clear()
                continue
            if counts.get("unanswered"):
                # HQ answered but left sales without a result: they stay queued; without a
                # pause they would be sent again at once, for as long as HQ does so.
                self.last_error = f"HQ's answer had no result for {counts['unanswered']} sales"
                wait = self.backoff.next_wait()
                self.next_try_at = time.time() + wait
                self.wake.wait(wait)
                self.wake.clear()
                continue
            self.backoff.reset()
            self.next_try_at = None
            self.last_error = ""
            # No link_ok here: only HQ answering proves the link (``_succeeded``). A round with
            # nothing to send asked it nothing, and calling that "online" undid the heartbeat's
            # "offline" every second (registers heard online, sales lost their offline mark).
            if counts["sent"] or counts.get("quarantined"):
                continue  # more may be waiting: no pause while draining
            self.wake.wait(self.idle_seconds)
            self.wake.clear()


def _original_of(payload: str) -> str | None:
    """The sale a stored return or void undoes (None for a sale). The stored JSON is
    ``model_dump_json``'s, so a sale's reads ``"original_sale_id":null``: no parse needed."""
    if '"original_sale_id":null' in payload or '"original_sale_id"' not in payload:
        return None
    return json.loads(payload).get("original_sale_id")


def _next(retry_at: float) -> str:
    return "next try " + time.strftime("%H:%M:%S UTC", time.gmtime(retry_at))
