"""What a store manager does at the agent with the manager PIN: force offline mode, and mark a
sale HQ rejected or refused as a conflict as dealt with. Every use and every wrong PIN is logged
in the agent's database. Mixed into ``service.Agent``.

Wrong PINs lock out the address they came from, not the switch: five wrong PINs from one
address lock that address for five minutes, each further lockout of it within a day twice as
long (up to a day), so one device guessing slowly gets a handful of tries a day while the
manager, at another device, is not locked out by it. One device has many addresses, though
(IPv6 privacy addresses, a new one for the asking), so the agent also counts wrong PINs from
all addresses together: the 50th within an hour refuses the PIN from every address for the
rest of that hour (an hour from the first of the 50), the manager's too: at most 50 guesses an
hour, days for a 4-digit PIN. One device alone gets at most 20 tries in any hour (5, then 5
after 5 minutes, 5 after 10 more, 5 after 20 more), so it cannot cause that. Lockouts are kept
in the agent's database (a restart does not reset them); the failures before a lockout are in
memory only, and forgotten once they no longer count (as are lockouts long over), with at most
PIN_ADDRESSES_KEPT addresses kept, so addresses that come and go do not grow the agent.
"""

from __future__ import annotations

import hashlib
import hmac
import time

PIN_ATTEMPTS, PIN_LOCK_SECONDS = 5, 300
PIN_LOCK_MAX_SECONDS = 86400  # the longest lockout; strikes older than this are forgotten
PIN_WRONG_PER_HOUR = 50  # from all addresses together; then the PIN is refused from any
PIN_ADDRESSES_KEPT = 1000  # addresses with recent wrong PINs (and with lockouts) kept at most
HOUR = 3600


def _text(value: str) -> str:
    """Text as UTF-8 can store it: a lone surrogate from JSON ("\\ud800") becomes '?', so
    hashing a PIN or logging a reason cannot fail half-way through an action."""
    return str(value or "").encode("utf-8", "replace").decode("utf-8")


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} minutes"


def _forget(failures: dict[str, list[float]], now: float) -> None:
    """Drop addresses whose wrong PINs no longer count, and beyond PIN_ADDRESSES_KEPT the
    addresses with the oldest last wrong PIN."""
    for address, times in list(failures.items()):
        if now - times[-1] >= PIN_LOCK_SECONDS:
            del failures[address]
    if len(failures) > PIN_ADDRESSES_KEPT:
        for address in sorted(failures, key=lambda a: failures[a][-1])[:-PIN_ADDRESSES_KEPT]:
            del failures[address]


class ManagerActions:
    def _pin_locks(self) -> dict[str, list[float]]:
        """address -> [locked until, strikes] (wall clock), as kept in the journal."""
        if self._locks is None:
            self._locks = dict(self.journal.get("pin_locks") or {})
        return self._locks

    def _pin_refusal(self, pin: str, what: str, client: str) -> str:
        """Why the PIN does not allow ``what`` from ``client`` (an address) ("" when it
        does); a wrong PIN is logged."""
        # One at a time: two wrong PINs at once must both count, from one address or from all.
        with self.journal.lock:
            return self._pin_check(_text(pin), what, client)

    def _pin_check(self, pin: str, what: str, client: str) -> str:
        now = time.time()
        if not self.config.manager_pin:
            return f"{what} is not set up: give the agent a manager PIN (manager_pin)"
        locks = self._pin_locks()
        until, strikes = locks.get(client, (0.0, 0))
        if now < until:
            return f"Too many wrong PINs from this device; try again in {_minutes(until - now)}"
        everyone_until = self.journal.get("pin_locked_until") or 0.0
        if now < everyone_until:
            wait = _minutes(everyone_until - now)
            return (
                f"{PIN_WRONG_PER_HOUR} wrong PINs at this agent within an hour, from several "
                f"devices: the PIN is refused from every device; try again in {wait}"
            )
        given = hashlib.sha256(pin.encode()).digest()
        wanted = hashlib.sha256(self.config.manager_pin.encode()).digest()
        if hmac.compare_digest(given, wanted):
            self._pin_failures.pop(client, None)
            return ""
        failures = [t for t in self._pin_failures.get(client, ()) if now - t < PIN_LOCK_SECONDS]
        failures.append(now)
        self._pin_failures[client] = failures
        _forget(self._pin_failures, now)
        self.journal.log(f"{what.lower()}: wrong PIN")
        if len(failures) >= PIN_ATTEMPTS:
            strikes = strikes + 1 if now - until < PIN_LOCK_MAX_SECONDS else 1
            seconds = min(PIN_LOCK_SECONDS * 2 ** (strikes - 1), PIN_LOCK_MAX_SECONDS)
            locks[client] = [now + seconds, strikes]
            for address, (ends, _) in list(locks.items()):  # forget lockouts long over
                if now - ends > PIN_LOCK_MAX_SECONDS:
                    del locks[address]
            for address in sorted(locks, key=lambda a: locks[a][0])[:-PIN_ADDRESSES_KEPT]:
                del locks[address]  # the ones that ended first: least to lose
            self.journal.put("pin_locks", locks)
            self._pin_failures.pop(client, None)
            self.journal.log(f"{what.lower()}: {PIN_ATTEMPTS} wrong PINs, device locked out")
        # Wrong PINs of the last hour from every address (at most PIN_WRONG_PER_HOUR).
        wrong = [t for t in self._pin_wrong if now - t < HOUR] + [now]
        if len(wrong) >= PIN_WRONG_PER_HOUR:
            self.journal.put("pin_locked_until", wrong[0] + HOUR)
            wrong = []
            self.journal.log(
                f"{what.lower()}: {PIN_WRONG_PER_HOUR} wrong PINs within an hour from "
                "several devices, the PIN is refused from every device for the rest of the hour"
            )
        self._pin_wrong[:] = wrong
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
