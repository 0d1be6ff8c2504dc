"""The journal's reads for staff and HQ: the oldest unsent sale, the sales waiting for staff
(conflicting, rejected, quarantined), counts per state, and one sale's state; and staff marking
a rejected or conflicting sale as dealt with (it stays in the file, no longer waiting).

Mixed into ``journal.Journal`` (its connection ``conn`` and ``lock``).
"""

from __future__ import annotations

QUARANTINED = "quarantined"


class StaffView:
    def oldest_unsent(self) -> tuple[str, float] | None:
        """(occurred_at, accepted_at) of the oldest queued sale."""
        with self.lock:
            row = self.conn.execute(
                "SELECT occurred_at, accepted_at FROM sales WHERE state = 'queued'"
                " ORDER BY seq LIMIT 1"
            ).fetchone()
        return (row[0], row[1]) if row else None

    def problems(self, limit: int = 50) -> list[dict]:
        """Conflicting, rejected and quarantined sales waiting for staff (not marked as dealt
        with), newest first, with HQ's reason (and, for quarantined ones, the failures so far
        and the next try)."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT sale_id, state, reason, occurred_at, failures, retry_at FROM sales"
                " WHERE state IN ('conflict', 'rejected', 'quarantined') AND dealt_at IS NULL"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
            total = self.conn.execute(
                "SELECT state, COUNT(*) FROM sales WHERE state IN"
                " ('conflict', 'rejected', 'quarantined') AND dealt_at IS NULL GROUP BY state"
            ).fetchall()
        return {
            "counts": dict(total),
            "sales": [
                {
                    "sale_id": r[0],
                    "state": r[1],
                    "reason": r[2],
                    "occurred_at": r[3],
                    "failures": r[4],
                    "retry_at": r[5] if r[1] == QUARANTINED else None,
                }
                for r in rows
            ],
        }

    def counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self.conn.execute("SELECT state, COUNT(*) FROM sales GROUP BY state"))

    def sale_state(self, sale_id: str) -> dict | None:
        """Where one sale stands here: its state, HQ's reason, the points estimated and the
        points HQ posted, when it happened, was accepted and settled, and the tries so far."""
        with self.lock:
            row = self.conn.execute(
                "SELECT state, reason, points, hq_points, occurred_at, accepted_at, settled_at,"
                " attempts, retry_at, dealt_at, dealt_note FROM sales WHERE sale_id = ?",
                (sale_id,),
            ).fetchone()
        if row is None:
            return None
        keys = ("state", "reason", "points", "hq_points", "occurred_at", "accepted_at")
        return {
            **dict(zip(keys, row[:6], strict=True)),
            "settled_at": row[6],
            "attempts": row[7],
            "retry_at": row[8] if row[0] == QUARANTINED else None,
            "dealt_at": row[9],
            "dealt_note": row[10],
        }

    def deal_with(self, sale_id: str, note: str, at: float) -> str | None:
        """Mark a rejected or conflicting sale as dealt with by staff; returns its state, or
        None when it is not one waiting for staff (quarantined sales are still to be sent)."""
        with self.lock:
            row = self.conn.execute(
                "UPDATE sales SET dealt_at = ?, dealt_note = ? WHERE sale_id = ?"
                " AND state IN ('conflict', 'rejected') AND dealt_at IS NULL RETURNING state",
                (at, note, sale_id),
            ).fetchone()
        return row[0] if row else None
