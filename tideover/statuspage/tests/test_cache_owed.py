"""The retry that tells the cache of changes made while it was away (statuspage/cache_owed.py)."""

from __future__ import annotations

import time

from tideover.statuspage import cache_owed


def test_a_change_owed_during_a_successful_try_is_tried_again(monkeypatch, settings):
    settings.STATUS_CACHE_SECONDS = 5
    monkeypatch.setattr(cache_owed, "RETRY_SECONDS", 0.02)
    tries = []

    def settle(publish):
        tries.append(publish)
        if len(tries) == 1:  # another request's change fails to reach the cache meanwhile
            cache_owed.invalidate_when_back(publish=True)
        return True

    monkeypatch.setattr(cache_owed, "_settle", settle)
    cache_owed.invalidate_when_back()
    deadline = time.monotonic() + 5
    while cache_owed.pending():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert tries == [False, True]  # the second change, publish task and all, was settled too


def test_forget_stops_the_retries(monkeypatch, settings):
    monkeypatch.setattr(cache_owed, "RETRY_SECONDS", 0.02)
    monkeypatch.setattr(cache_owed, "_settle", lambda publish: False)  # the cache stays away
    cache_owed.invalidate_when_back(publish=True)
    assert cache_owed.pending()
    cache_owed.forget()
    assert not cache_owed.pending()
