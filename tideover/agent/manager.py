"""What a store manager does at the agent with the manager PIN: force offline mode, and mark a
sale HQ rejected or refused as a conflict as dealt with. Every use and every wrong PIN is logged
in the agent's database; five wrong PINs lock both for five minutes. Mixed into
``service.Agent``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

PIN_ATTEMPTS, PIN_LOCK_SECONDS = 5, 300


def _text(value: str) -> str:
    """Text as UTF-8 can store it: a lone surrogate from JSON ("\\ud800") becomes '?', so
    hashing a PIN or logging a reason cannot fail half-way through an action."""
    return str(value or "").encode("utf-8", "replace").decode("utf-8")


class ManagerActions:
    def _pin_refusal(self, pin: str, what: str) -> str:
        """Why the PIN does not allow ``what`` ("" when it does); a wrong PIN is logged."""
        pin = _text(pin)
        now = time.time()
        self._pin_failures = [t for t in self._pin_failures if now - t < PIN_LOCK_SECONDS]
        if not self.config.manager_pin:
            return f"{what} is not set up: give the agent a manager PIN (manager_pin)"
        if len(self._pin_failures) >= PIN_ATTEMPTS:
            return "Too many wrong PINs; try again in 5 minutes"
        given = hashlib.sha256(pin.encode()).digest()
        wanted = hashlib.sha256(self.config.manager_pin.encode()).digest()
        if not hmac.compare_digest(given, wanted):
            self._pin_failures.append(now)
            self.journal.log(f"{what.lower()}: wrong PIN")
            return "Wrong PIN"
        return ""

    def force_offline(self, on: bool, pin: str, *, who: str = "", reason: str = "") -> str:
        """A store manager switches forced offline on or off with the PIN; both are logged.
        Returns the error to show, or "" when done."""
        refusal = self._pin_refusal(pin, "Forced offline")
        if refusal:
            return refusal
        who, reason = _text(who), _text(reason)
        self.forced_offline = on
        self.journal.put("forced_offline", on)
        who_text = f" by {who[:60]}" if who else ""
        why = f": {reason[:200]}" if reason else ""
        self.journal.log(f"forced offline {'on' if on else 'off'}{who_text}{why}")
        if not on:
            self.forwarder.send_now()
        return ""

    def deal_with(self, sale_id: str, pin: str, *, who: str = "", note: str = "") -> str:
        """A manager marks a rejected or conflicting sale as dealt with (what was done goes in
        ``note``): it stays in the agent's file but no longer waits for staff, here or in the
        counts HQ sees. Returns the error to show, or "" when done."""
        refusal = self._pin_refusal(pin, "Marking a sale as dealt with")
        if refusal:
            return refusal
        who, note = _text(who), _text(note)
        who_text = f" by {who[:60]}" if who else ""
        what = f"{note.strip()[:200]}{who_text}".strip()
        state = self.journal.deal_with(sale_id, what, time.time())
        if state is None:
            known = self.journal.sale_state(sale_id)
            if known is None:
                return f"This agent has no sale {sale_id}"
            if known["dealt_at"] is not None:
                return f"Sale {sale_id} was already marked as dealt with"
            return (
                f"Sale {sale_id} is {known['state']}, not waiting for staff: only rejected and "
                "conflicting sales are marked as dealt with (quarantined ones are still sent)"
            )
        self.journal.log(f"sale {sale_id} ({state}) dealt with{who_text}: {note.strip()[:200]}")
        return ""
