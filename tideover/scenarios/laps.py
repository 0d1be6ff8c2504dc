"""Where a replay's time goes: a lap timer the runner and ``tideover demo`` print from, so a
slow demo says which part was slow (``tideover demo`` prints one line per run)."""

from __future__ import annotations

import time


class Laps:
    def __init__(self) -> None:
        self.last = time.monotonic()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """The time since the previous lap (or the start) goes to ``name``."""
        now = time.monotonic()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.laps.items())
