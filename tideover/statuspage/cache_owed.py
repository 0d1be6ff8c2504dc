"""A public change the shared cache (or the task queue) could not be told about.

With Redis away, a change's commit cannot start a new cache version, and on RQ its publish task
cannot be queued either. Readers render afresh meanwhile (cache.UNAVAILABLE), so the change
shows; but once Redis answers again it still holds the version from before the change, and every
process would serve the page without it until those renderings expire (STATUS_CACHE_SECONDS).
So the process that made the change keeps trying, in a thread, until it can start a new version
(and queue the publish task that was not queued), or until the renderings from before have
expired anyway.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from tideover.statuspage import cache

log = logging.getLogger("tideover.statuspage")

RETRY_SECONDS = 2.0

_lock = threading.Lock()
# "owed": bumped by every change owed, so a try that succeeded settles only what was owed
# when it began (a change owed meanwhile keeps the thread going).
_owed: dict = {"until": 0.0, "publish": False, "thread": None, "owed": 0}
_stop = threading.Event()


def invalidate_when_back(*, publish: bool = False) -> None:
    """Start a new version as soon as the cache answers (``publish``: and queue the publish
    task); one thread per process, however many changes are owed."""
    with _lock:
        _owed["until"] = time.monotonic() + settings.STATUS_CACHE_SECONDS + RETRY_SECONDS
        _owed["publish"] = _owed["publish"] or publish
        _owed["owed"] += 1
        if _owed["thread"] is None:
            _stop.clear()
            thread = threading.Thread(target=_retry, name="statuspage-owed", daemon=True)
            _owed["thread"] = thread
            thread.start()


def pending() -> bool:
    """Whether this process is still trying to tell the cache of a change."""
    return _owed["thread"] is not None


def forget() -> None:
    """Stop trying and forget what is owed (tests, between one cache and the next)."""
    with _lock:
        thread = _owed["thread"]
        _stop.set()
    if thread is not None:
        thread.join(5)
    with _lock:
        _owed.update(thread=None, publish=False, until=0.0)


def _retry() -> None:
    try:
        while time.monotonic() < _owed["until"] and not _stop.wait(RETRY_SECONDS):
            with _lock:
                owed, publish = _owed["owed"], _owed["publish"]
            if not _settle(publish):
                continue
            with _lock:
                if _owed["owed"] == owed:  # nothing new owed since this try began
                    _owed.update(thread=None, publish=False)
                    break
        else:
            with _lock:
                _owed.update(thread=None, publish=False)
            return
        log.warning("status page cache answers again: changes made meanwhile published")
    finally:
        from django.db import connection

        connection.close()  # this thread's own, if queueing the task opened one


def _settle(publish: bool) -> bool:
    """One try: True when the cache took a new version (and the publish task is queued)."""
    from tideover.statuspage.tasks import publish_status

    try:
        cache.invalidate()
        if publish:
            publish_status.enqueue()
    except Exception:
        return False
    return True
