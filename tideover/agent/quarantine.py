"""The journal's quarantine: sales HQ fails on every time, set aside so the rest drain.

Mixed into ``journal.Journal`` (its connection ``conn``, ``lock`` and queued count); when a
sale is quarantined and how it is retried is the forwarder's (``forwarder.py``).
"""

from __future__ import annotations


class QuarantineQueue:
    def count_failure(self, seq: int) -> int:
        """One more server error for this sale sent alone; returns its count so far."""
        with self.lock:
            self.conn.execute(
                "UPDATE sales SET failures = failures + 1, attempts = attempts + 1 WHERE seq = ?",
                (seq,),
            )
            row = self.conn.execute("SELECT failures FROM sales WHERE seq = ?", (seq,)).fetchone()
        return row[0]

    def quarantine(self, seq: int, reason: str, retry_at: float) -> bool:
        """Set a queued sale aside until ``retry_at``; False if it was not queued."""
        with self.lock:
            moved = self.conn.execute(
                "UPDATE sales SET state = 'quarantined', reason = ?, retry_at = ?"
                " WHERE seq = ? AND state = 'queued'",
                (reason, retry_at, seq),
            ).rowcount
            self._queued = max(0, self._queued - moved)
        return bool(moved)

    def due_quarantined(self, now: float, limit: int = 1) -> list[tuple[int, str, str]]:
        """(seq, sale_id, payload) of quarantined sales whose next try is due, longest due
        first."""
        with self.lock:
            return self.conn.execute(
                "SELECT seq, sale_id, payload FROM sales WHERE state = 'quarantined'"
                " AND retry_at <= ? ORDER BY retry_at LIMIT ?",
                (now, limit),
            ).fetchall()

    def postpone(self, seq: int, reason: str, retry_at: float) -> None:
        """A quarantined sale failed again: count it and wait until ``retry_at``."""
        with self.lock:
            self.conn.execute(
                "UPDATE sales SET failures = failures + 1, attempts = attempts + 1,"
                " reason = ?, retry_at = ? WHERE seq = ? AND state = 'quarantined'",
                (reason, retry_at, seq),
            )

    def retry_quarantined_now(self) -> int:
        """Make every quarantined sale due at once (staff pressed "send now")."""
        with self.lock:
            return self.conn.execute(
                "UPDATE sales SET retry_at = 0 WHERE state = 'quarantined'"
            ).rowcount

    def unsettled(self, sale_ids: set[str]) -> set[str]:
        """Those of ``sale_ids`` still queued or quarantined here (not yet settled by HQ)."""
        if not sale_ids:
            return set()
        ids = sorted(sale_ids)
        with self.lock:
            rows = self.conn.execute(
                # Only "?" placeholders are formatted in; the values are bound.
                f"SELECT sale_id FROM sales WHERE sale_id IN ({','.join('?' * len(ids))})"  # noqa: S608
                " AND state IN ('queued', 'quarantined')",
                ids,
            ).fetchall()
        return {row[0] for row in rows}
