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
``quarantine_retry_seconds``, and the sales behind it go on.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from tideover.agent.hq import HQUnavailable
from tideover.agent.journal import QUARANTINED

log = logging.getLogger("tideover.agent")


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

    def send_now(self) -> None:
        """Forward at once instead of waiting for the next retry."""
        self.backoff.reset()
        self.wake.set()

    def forward_once(self) -> dict:
        """Send one batch of the oldest queued sales (after one quarantined sale whose next try
        is due); returns the counts. Raises HQUnavailable."""
        retried = self._retry_quarantined()
        rows = self.journal.oldest_queued(self.batch_size)
        if not rows:
            return {"sent": retried}
        seqs = {sale_id: seq for seq, sale_id, _ in rows}
        try:
            response = self.agent.hq.post_batch([payload for _, _, payload in rows])
        except HQUnavailable as exc:
            if exc.status and exc.status >= 500:
                if len(rows) > 1:
                    # Bisect: the half with the culprit fails again, the other half posts.
                    self.batch_size = max(1, len(rows) // 2)
                elif self._blame(rows[0], exc.status):
                    return {"sent": retried, "quarantined": 1}
            raise
        if response.status_code == 400 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)  # HQ's batch limit is lower than ours
            raise HQUnavailable(f"HQ asked for smaller batches: {response.text[:200]}")
        if response.status_code != 200:
            raise HQUnavailable(f"HQ answered {response.status_code}: {response.text[:200]}")
        counts = self.journal.settle(response.json()["results"], seqs)
        self.batch_size = min(self.config.batch_size, self.batch_size * 2)
        return {"sent": len(rows) + retried, **counts}

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
            response = self.agent.hq.post_batch([payload])
        except HQUnavailable as exc:
            if not exc.status or exc.status < 500:
                raise  # HQ out of reach: the usual backoff, the sale stays due
            self.journal.postpone(
                seq, f"HQ answered {exc.status} again; {_next(retry_at)}", retry_at
            )
            return 0
        if response.status_code != 200:
            self.journal.postpone(
                seq, f"HQ answered {response.status_code} again; {_next(retry_at)}", retry_at
            )
            return 0
        counts = self.journal.settle(response.json()["results"], {sale_id: seq}, was=QUARANTINED)
        state = next((k for k, v in counts.items() if v), "?")
        self.journal.log(f"quarantined sale {sale_id} sent again: {state}")
        return 1

    def drain(self) -> dict:
        """Forward until the queue is empty or HQ fails (used by ``sync`` and tests)."""
        total = {"sent": 0}
        while True:
            counts = self.forward_once()
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
                counts = self.forward_once()
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
            self.backoff.reset()
            self.next_try_at = None
            self.last_error = ""
            self.agent.link_ok()
            if counts["sent"]:
                self.last_success_at = time.time()
                self.agent.journal.put("last_sync_at", self.last_success_at)
            if counts["sent"] or counts.get("quarantined"):
                continue  # more may be waiting: no pause while draining
            self.wake.wait(self.idle_seconds)
            self.wake.clear()


def _next(retry_at: float) -> str:
    return "next try " + time.strftime("%H:%M:%S UTC", time.gmtime(retry_at))
