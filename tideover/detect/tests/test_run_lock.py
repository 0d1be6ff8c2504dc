"""One detection run at a time: a slow run keeps the others out until it ends."""

from __future__ import annotations

from datetime import UTC, datetime

from tideover.detect import derived, scoring

UNTIL = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_slow_run_does_not_let_a_second_run_in(db, time_machine, monkeypatch):
    # The lock was a cache key that expired after 300 s: a run slower than that let the next
    # one in, and whichever ended first deleted the key under the other.
    time_machine.move_to(datetime(2026, 11, 30, 12, 1, tzinfo=UTC), tick=False)
    overlapping, real = [], derived.derive_until

    def slow_derive(until):
        if not overlapping:
            overlapping.append("A running")
            time_machine.move_to(datetime(2026, 11, 30, 12, 7, tzinfo=UTC), tick=False)
            overlapping.append(scoring.run_detection(UNTIL))
            overlapping.append(scoring.run_detection(UNTIL))
        return real(until)

    monkeypatch.setattr(derived, "derive_until", slow_derive)
    assert "skipped" not in scoring.run_detection(UNTIL)
    assert overlapping[1] == {"skipped": True}, overlapping
    assert overlapping[2] == {"skipped": True}, overlapping
    # Released when the run ends, failed or not.
    assert "skipped" not in scoring.run_detection(UNTIL)


def test_a_run_that_fails_releases_the_lock(db, monkeypatch):
    def broken(until):
        raise RuntimeError("derive failed")

    monkeypatch.setattr(derived, "derive_until", broken)
    for _ in range(2):
        try:
            scoring.run_detection(UNTIL)
        except RuntimeError:
            pass
        else:
            raise AssertionError("the run was skipped, not run")
