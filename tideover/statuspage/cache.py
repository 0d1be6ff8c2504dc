"""The served status page: pre-rendered bytes in Django's cache, invalidated by every change.

During an outage the status page gets the traffic spike while the database is busiest (or down),
so a visitor's request must not touch it. Each document is rendered once per *version* into the
shared cache (file, Redis: every web process sees it); ``invalidate()`` starts a new version, so
a change is visible on the very next request in every process. Each process also keeps the
bytes it served in memory, keyed by version, so a hit costs one small cache read (the version)
and no rendering, pickling of pages or database work.

One render per change, not one per waiting request: the first request (or the publish task)
that misses a document of a new version claims its rendering in the shared cache, and while
that render runs every other request, in any process, is answered with the newest bytes that
process already holds for the document (the version before). Without the claim every thread of
every web process rendered the same page at once after each update, and the whole page stalled
for the length of those renders. A claim lasts ``RENDER_CLAIM_SECONDS`` at most, and a process
that holds no earlier bytes renders for itself.

After a public change the web processes do not render at all: the change's commit starts the new
version *held* for the publish task (``invalidate(held=True)``, services.publish_changes), which
renders the hot pages in the worker and then lets go. Until then (``RENDER_CLAIM_SECONDS`` past
the task's start at most, should no worker run) readers get the page from before the change. A rendering in a web
process holds its GIL for tens of milliseconds, and every request queued behind it in that
process waits as long: with an update a second that was what moved the page's p99. A reader that
found a document being rendered does not ask the shared cache again for ``RECHECK_SECONDS``, so
the wait costs each request a dictionary lookup, not two cache reads.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
import time
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.utils.http import http_date

log = logging.getLogger("tideover.statuspage")

VERSION_KEY = "statuspage:version"
_MEMO_LIMIT = 512
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class Rendered:
    """A document ready to send: bytes plus the validators a browser or CDN revalidates with."""

    body: bytes
    content_type: str
    etag: str
    last_modified: str
    expires_at: float  # wall clock, so the memo and the shared cache agree on it
    gzipped: bytes | None = None  # compressed once here, not per visitor

    @classmethod
    def of(cls, body: bytes, content_type: str, ttl: int) -> Rendered:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        now = time.time()
        packed = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(body, content_type, f'"{digest}"', http_date(now), now + ttl, packed)

    @property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation: the compressed bytes get their own.
        return self.etag[:-1] + '-gz"'

    def variant(self, accept_encoding: str | None) -> tuple[bytes, str, bool]:
        """(body, etag, is_gzip) for a client that sent this Accept-Encoding."""
        if self.gzipped is not None and accepts_gzip(accept_encoding):
            return self.gzipped, self.gzip_etag, True
        return self.body, self.etag, False

    def matches(self, if_none_match: str) -> bool:
        """True when an If-None-Match header names this document (either representation)."""
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags or self.gzip_etag in tags


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): named, or ``*``, with a
    weight above zero; ``gzip;q=0`` refuses it whatever ``*`` says."""
    weights = {}
    for part in (accept_encoding or "").lower().split(","):
        coding, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    named = weights.get("gzip", weights.get("x-gzip"))
    return (named if named is not None else weights.get("*", 0.0)) > 0


_memo: dict[str, Rendered] = {}
_memo_lock = threading.Lock()
# Per document name: the newest rendering this process has served, whatever its version.
_previous: dict[str, Rendered] = {}
# Per document name: the shared-cache key this process last stored it under. A new rendering
# deletes the one it supersedes, so the file cache does not fill up with past versions (it
# culls at random once full, and could then drop the version key and re-render everything).
_stored_keys: dict[str, str] = {}
_claimed_here: set[str] = set()
RENDER_CLAIM_SECONDS = 10
# Per shared-cache key: until when this process serves the previous rendering without asking the
# shared cache again (someone is rendering it). Bounds how late a reader sees a finished render.
_waiting: dict[str, float] = {}
RECHECK_SECONDS = 0.05


# With the file cache (the default on one machine) every set of the version replaces its file,
# so a stat() tells whether it changed: ~1 µs instead of reading and unpickling it per request.
_probe: dict[str, object] = {}


_version_files: dict[tuple, str | None] = {}


def _version_file() -> str | None:
    """The file holding the version when the cache is file based (looked up once per setting)."""
    config = settings.CACHES["default"]
    setting = (config.get("BACKEND"), config.get("LOCATION"), config.get("KEY_PREFIX"))
    if setting not in _version_files:
        backend = caches["default"]
        found = backend._key_to_file(VERSION_KEY) if isinstance(backend, FileBasedCache) else None
        _version_files[setting] = found
    return _version_files[setting]


def _read_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY) or "unversioned"
    return version


# While the cache server cannot be reached nobody can tell this process about changes, so it
# renders every request afresh (and the views fall back to the static export if that fails).
UNAVAILABLE = "cache-unavailable"


def current_version() -> str:
    """The version every process serves now (made on first use)."""
    try:
        return _current_version()
    except Exception:
        log.warning("status page cache unreachable; rendering without it", exc_info=True)
        return UNAVAILABLE


def _current_version() -> str:
    path = _version_file()
    if path is None:
        return _read_version()
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return _read_version()
    stamp = (path, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if _probe.get("stamp") == stamp:
        return _probe["version"]
    version = _read_version()
    _probe.update(stamp=stamp, version=version)
    return version


def forget_process_state() -> None:
    """Drop everything this process holds of the shared cache (tests switch caches between
    them; a process in production never needs it)."""
    with _memo_lock:
        for held in (_memo, _previous, _stored_keys, _claimed_here, _waiting, _probe):
            held.clear()
        _day.update(zone=None, until=0.0, today="")


def invalidate(*, held: bool = False) -> str:
    """Start a new version: every process renders afresh on its next request. ``held``: the
    publish task renders it; readers that hold an earlier rendering serve that meanwhile."""
    version = uuid.uuid4().hex
    if held:  # before the version: no reader may see the version without its hold
        # The task starts STATUS_PUBLISH_DELAY_SECONDS from now; it has a claim's time after.
        hold = settings.STATUS_PUBLISH_DELAY_SECONDS + RENDER_CLAIM_SECONDS
        cache.set(_held_key(version), os.getpid(), timeout=hold)
    cache.set(VERSION_KEY, version, timeout=None)
    with _memo_lock:
        _memo.clear()
    return version


_day: dict[str, object] = {"zone": None, "until": 0.0, "today": ""}


def _today() -> str:
    """Today in the page's time zone, worked out again only once the day is over."""
    now = time.time()
    zone_name = settings.TIME_ZONE
    if now < _day["until"] and _day["zone"] == zone_name:
        return _day["today"]
    zone = zoneinfo.ZoneInfo(zone_name)
    today = datetime.fromtimestamp(now, zone).date()
    midnight = datetime.combine(today + timedelta(days=1), dtime.min, tzinfo=zone)
    _day.update(zone=zone_name, until=midnight.timestamp(), today=today.isoformat())
    return _day["today"]


def _key(version: str, name: str) -> str:
    # The day is part of the key so history bars roll over at midnight without a change.
    return f"statuspage:{version}:{_today()}:{name}"


def lookup(
    name: str, version: str | None = None, *, stale_while_rendering: bool = False
) -> Rendered | None:
    """The cached document, or None; never renders, never touches the database. With
    ``stale_while_rendering``, the previous rendering while someone renders this version."""
    version = version or current_version()
    if version == UNAVAILABLE:
        return None
    key = _key(version, name)
    now = time.time()
    found = _memo.get(key)
    if found is not None and found.expires_at > now:
        return found
    if stale_while_rendering and _waiting.get(key, 0.0) > now:
        previous = _previous_of(name)
        if previous is not None:
            return previous
    try:
        found = cache.get(key)
    except Exception:
        log.warning("status page cache unreachable; rendering without it", exc_info=True)
        return None
    if found is None or found.expires_at <= now:
        if stale_while_rendering and _being_rendered(version, name):
            if len(_waiting) >= _MEMO_LIMIT:
                _waiting.clear()
            _waiting[key] = now + RECHECK_SECONDS
            return _previous_of(name)
        return None
    _remember(key, found, name)
    return found


def _remember(key: str, rendered: Rendered, name: str) -> None:
    with _memo_lock:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        _memo[key] = rendered
        if len(_previous) >= _MEMO_LIMIT and name not in _previous:
            _previous.clear()
        _previous[name] = rendered


def _previous_of(name: str) -> Rendered | None:
    previous = _previous.get(name)
    return previous if previous is not None and previous.expires_at > time.time() else None


def _claim_key(version: str, name: str) -> str:
    return _key(version, name) + ":rendering"


def _held_key(version: str) -> str:
    return f"statuspage:{version}:held-for-publish"


def release(version: str) -> None:
    """The publish task has rendered ``version`` (or will not): readers stop waiting for it."""
    try:
        cache.delete(_held_key(version))
    except Exception:
        log.warning("status page cache unreachable; the hold expires on its own")


def _held(version: str) -> bool:
    try:
        return cache.get(_held_key(version)) is not None
    except Exception:
        return False


def _being_rendered(version: str, name: str) -> bool:
    key = _claim_key(version, name)
    if key in _claimed_here:
        return True
    try:
        found = cache.get_many([key, _held_key(version)])
    except Exception:
        return False
    return bool(found)


def _claim(version: str, name: str) -> bool:
    """True when this caller is to render ``name`` at ``version`` (nobody else is)."""
    key = _claim_key(version, name)
    with _memo_lock:
        if key in _claimed_here:
            return False
        _claimed_here.add(key)
    try:
        won = cache.add(key, os.getpid(), timeout=RENDER_CLAIM_SECONDS)
    except Exception:
        log.warning("status page cache unreachable; rendering without a claim", exc_info=True)
        return True
    if not won:
        _release_here(key)
    return won


def _release_here(key: str) -> None:
    with _memo_lock:
        _claimed_here.discard(key)


def get_or_render(
    name: str, build: Callable[[], bytes | None], content_type: str, *, publishing: bool = False
) -> Rendered | None:
    """The cached document, rendering and storing it on a miss. None when it does not exist.
    ``publishing``: the caller is the publish task the version is held for."""
    version = current_version()
    key = _key(version, name)
    found = lookup(name, version)
    if found is not None:
        return found
    claimed = False
    if version != UNAVAILABLE:
        previous = _previous_of(name)
        if previous is not None and not publishing and _held(version):
            return previous  # the publish task renders this version: the one before meanwhile
        claimed = _claim(version, name)
        if not claimed and previous is not None:
            return previous  # someone renders this version now: the one before meanwhile
    try:
        return _render_and_store(name, key, version, build, content_type)
    finally:
        if claimed:
            _release_here(_claim_key(version, name))
            try:
                cache.delete(_claim_key(version, name))
            except Exception:
                log.warning("status page cache unreachable; the render claim expires on its own")


def _render_and_store(
    name: str, key: str, version: str, build: Callable[[], bytes | None], content_type: str
) -> Rendered | None:
    body = build()
    if body is None:
        return None
    ttl = settings.STATUS_CACHE_SECONDS
    rendered = Rendered.of(body, content_type, ttl)
    if version != UNAVAILABLE:
        try:
            cache.set(key, rendered, timeout=ttl)
            superseded = _stored_keys.get(name)
            if superseded is not None and superseded != key:
                cache.delete(superseded)
        except Exception:
            log.warning("status page cache unreachable; not stored", exc_info=True)
            return rendered
        if len(_stored_keys) >= _MEMO_LIMIT and name not in _stored_keys:
            _stored_keys.clear()
        _stored_keys[name] = key
        _remember(key, rendered, name)
    return rendered
