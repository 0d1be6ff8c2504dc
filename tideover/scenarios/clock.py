"""The replay's clock: while a scenario plays, "now" is the scenario's minute.

Most acts of a replay pass their time explicitly (a declaration ``at`` 14:06, a sale that
``occurred_at`` 14:31), but the product also stamps records itself: when a sale reached HQ, when
a heartbeat was heard, when a message was sent, when a shopper was signed up. Without a clock of
its own a replay of last Saturday would stamp those with today's wall-clock time, and every
figure that compares two of them ("queued offline" sales found by their late posting, "reached
within an hour of resolution") would measure the replay's speed instead of the day.

``time-machine`` moves the process's wall clock (``time.time``, ``datetime.now``) to the
scenario's minute and lets it run on from there; monotonic clocks, which timeouts and waits use,
are left alone. The clock only ever moves forward, so records keep their order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine


class ReplayClock:
    """Use as a context manager; ``at(moment)`` moves "now" to ``moment`` (never backwards)."""

    def __init__(self, start: datetime):
        self.start = start
        self._travel: time_machine.travel | None = None
        self._traveller = None
        self.now = start

    def __enter__(self) -> ReplayClock:
        self._travel = time_machine.travel(self.start, tick=True)
        self._traveller = self._travel.start()
        self.now = self.start
        return self

    def at(self, moment: datetime) -> None:
        current = datetime.now(UTC)
        if moment > current:
            self._traveller.move_to(moment)
            self.now = moment
        else:
            self.now = current

    def __exit__(self, *exc) -> None:
        if self._travel is not None:
            self._travel.stop()
            self._travel = self._traveller = None
