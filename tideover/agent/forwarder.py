"""Sending queued sales to HQ: oldest first, in batches, forever, with backoff and jitter.

Each batch goes to HQ's ``sales:batch`` as stored and each sale is settled by its own result
(``journal.Journal.settle``): a rejected or conflicting sale is kept for staff and the sales
behind it go on. When HQ does not answer, the wait before the next try grows (0.5 s, 1 s, 2 s,
... up to ``backoff_max_seconds``) and half of it is drawn at random ("equal jitter"), so 150
stores coming back together do not hit HQ in lockstep. ``send_now`` skips the wait.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from tideover.agent.hq import HQUnavailable

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

    def send_now(self) -> None:
        """Forward at once instead of waiting for the next retry."""
        self.backoff.reset()
        self.wake.set()

    def forward_once(self) -> dict:
        """Send one batch of the oldest queued sales; returns the counts. Raises HQUnavailable."""
        rows = self.journal.oldest_queued(self.batch_size)
        if not rows:
            return {"sent": 0}
        seqs = {sale_id: seq for seq, sale_id, _ in rows}
        try:
            response = self.agent.hq.post_batch([payload for _, _, payload in rows])
        except HQUnavailable as exc:
            if exc.status and exc.status >= 500 and self.batch_size > 1:
                # A sale HQ cannot digest must not hold the others back: smaller batches until
                # it is alone, so everything before it posts.
                self.batch_size = max(1, self.batch_size // 2)
            raise
        if response.status_code == 400 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)  # HQ's batch limit is lower than ours
            raise HQUnavailable(f"HQ asked for smaller batches: {response.text[:200]}")
        if response.status_code != 200:
            raise HQUnavailable(f"HQ answered {response.status_code}: {response.text[:200]}")
        counts = self.journal.settle(response.json()["results"], seqs)
        self.batch_size = min(self.config.batch_size, self.batch_size * 2)
        return {"sent": len(rows), **counts}

    def drain(self) -> dict:
        """Forward until the queue is empty or HQ fails (used by ``sync`` and tests)."""
        total = {"sent": 0}
        while True:
            counts = self.forward_once()
            if not counts["sent"]:
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
                continue  # more may be waiting: no pause while draining
            self.wake.wait(self.idle_seconds)
            self.wake.clear()
