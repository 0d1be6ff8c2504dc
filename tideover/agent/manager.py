"""What a store manager does at the agent with the manager PIN: force offline mode, and mark a
sale HQ rejected or refused as a conflict as dealt with. Every use and every wrong PIN is logged
in the agent's database. Mixed into ``service.Agent``.

Wrong PINs lock out the address they came from, not the switch: five wrong PINs from one
address lock that address for five minutes, each further lockout of it within a day twice as
long (up to a day), so one device guessing slowly gets a handful of tries a day while the
manager, at another device, is never locked out by it. Lockouts are kept in the agent's
database (a restart does not reset them); the failures before a lockout are in memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import time

PIN_ATTEMPTS, PIN_LOCK_SECONDS = 5, 300
PIN_LOCK_MAX_SECONDS = 86400  # the longest lockout; strikes older than this are forgotten


def _text(value: str) -> str:
    """Text as UTF-8 can store it: a lone surrogate from JSON ("\\ud800") becomes '?', so
    hashing a PIN or logging a reason cannot fail half-way through an action."""
    return str(value or "").encode("utf-8", "replace").decode("utf-8")


class ManagerActions:
    def _pin_locks(self) -> dict[str, list[float]]:
        """address -> [locked until, strikes] (wall clock), as kept in the journal."""
        if self._locks is None:
            self._locks = dict(self.journal.get("pin_locks") or {})
        return self._locks

    def _pin_refusal(self, pin: str, what: str, client: str) -> str:
        """Why the PIN does not allow ``what`` from ``client`` (an address) ("" when it
        does); a wrong PIN is logged."""
        pin = _text(pin)
        now = time.time()
        if not self.config.manager_pin:
            return f"{what} is not set up: give the agent a manager PIN (manager_pin)"
        locks = self._pin_locks()
        until, strikes = locks.get(client, (0.0, 0))
        if now < until:
            minutes = max(1, round((until - now) / 60))
            return f"Too many wrong PINs from this device; try again in {minutes} minutes"
        given = hashlib.sha256(pin.encode()).digest()
        wanted = hashlib.sha256(self.config.manager_pin.encode()).digest()
        if hmac.compare_digest(given, wanted):
            self._pin_failures.pop(client, None)
            return ""
        failures = [t for t in self._pin_failures.get(client, ()) if now - t < PIN_LOCK_SECONDS]
        failures.append(now)
        self._pin_failures[client] = failures
        self.journal.log(f"{what.lower()}: wrong PIN")
        if len(failures) >= PIN_ATTEMPTS:
            strikes = strikes + 1 if now - until < PIN_LOCK_MAX_SECONDS else 1
            seconds = min(PIN_LOCK_SECONDS * 2 ** (strikes - 1), PIN_LOCK_MAX_SECONDS)
            locks[client] = [now + seconds, strikes]
            for address, (ends, _) in list(locks.items()):  # forget lockouts long over
                if now - ends > PIN_LOCK_MAX_SECONDS:
                    del locks[address]
            self.journal.put("pin_locks", locks)
            self._pin_failures.pop(client, None)
            self.journal.log(f"{what.lower()}: {PIN_ATTEMPTS} wrong PINs, device locked out")
        return "Wrong PIN"

    def force_offline(
        self, on: bool, pin: str, *, who: str = "", reason: str = "", client: str = "local"
    ) -> str:
        """A store manager switches forced offline on or off with the PIN; both are logged.
        ``client``: the address asking (wrong PINs lock out that address). Returns the error
        to show, or "" when done."""
        refusal = self._pin_refusal(pin, "Forced offline", client)
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

    def deal_with(
        self, sale_id: str, pin: str, *, who: str = "", note: str = "", client: str = "local"
    ) -> str:
        """A manager marks a rejected or conflicting sale as dealt with (what was done goes in
        ``note``): it stays in the agent's file but no longer waits for staff, here or in the
        counts HQ sees. Returns the error to show, or "" when done."""
        refusal = self._pin_refusal(pin, "Marking a sale as dealt with", client)
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
