"""What the agent knows of each loyalty member offline: HQ's last balance and tier (kept from
HQ's answers), the points of the member's sales still queued here, and how far the estimates of
posted sales were off. Keyed by the id as HQ keeps it (upper-case), whichever case it is asked
in. Mixed into ``journal.Journal`` (its connection and lock).
"""

from __future__ import annotations

import time

from tideover.agent.store import MEMBER_UPSERT
from tideover.sales.schemas import member_key


class MemberMemory:
    def tier(self, member_id: str) -> str | None:
        """The member's tier as HQ last said, or None when not known here."""
        row = self.conn.execute(
            "SELECT tier FROM members WHERE member_id = ?", (member_key(member_id),)
        ).fetchone()
        return row[0] if row else None

    def member(self, member_id: str) -> tuple[int | None, float | None, int]:
        """(last HQ balance, when, points of this member's queued sales), whichever case the
        id is given in."""
        member_id = member_key(member_id)
        with self.lock:
            known = self.conn.execute(
                "SELECT balance, as_of FROM members WHERE member_id = ?", (member_id,)
            ).fetchone()
            queued = self.conn.execute(
                "SELECT COALESCE(SUM(points), 0) FROM sales"
                " WHERE member_id = ? AND state IN ('queued', 'quarantined')",
                (member_id,),
            ).fetchone()[0]
        return (known[0], known[1], queued) if known else (None, None, queued)

    def estimate_difference(self, member_id: str) -> int:
        """Points HQ posted minus the agent's estimates, over this member's posted sales."""
        member_id = member_key(member_id)
        with self.lock:
            return self.conn.execute(
                "SELECT COALESCE(SUM(hq_points - points), 0) FROM sales"
                " WHERE member_id = ? AND state = 'posted' AND hq_points IS NOT NULL",
                (member_id,),
            ).fetchone()[0]

    def remember_balance(self, member_id: str, balance: int, tier: str | None = None) -> None:
        with self.lock:
            self.conn.execute(MEMBER_UPSERT, (member_key(member_id), balance, tier, time.time()))
