"""What Detect sees during a replay, in the scenario's minutes: the share of stores whose agent
HQ heard from (heartbeat coverage, from the heartbeats the fleet records each minute), the
posts about the brand, the web shop's checkouts and how
many errored (reported per minute, as the web shop does through the API), and (derived by
Detect itself from the sales the agents post) the failure and decline rate. Detection runs
minute by minute; the first alert it raises is what the commander declares from.

Before the trouble starts the detectors are given a week of ordinary minutes (Detect's own
``replay.warm_up``: coverage near 100%, the odd complaint and declined card) and the rule
"heartbeat coverage below 90% for 3 minutes", so they know what normal looks like.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tideover.detect import services
from tideover.detect.checkouts import CheckoutReport, record_checkouts
from tideover.detect.models import Alert, AlertState
from tideover.detect.replay import warm_up
from tideover.detect.social import ingest_posts
from tideover.scenarios.social import Post
from tideover.scenarios.traffic import WebCheckout


class Watch:
    def __init__(
        self,
        start: datetime,
        posts: list[Post],
        checkouts: list[WebCheckout] = (),
        *,
        since: datetime | None = None,
    ):
        self.start = start
        # Alerts count from the first failure's start: one raised before it (the ordinary
        # chatter of a quiet morning) is not about this trouble and is not declared from.
        self.since = since or start
        self.posts = posts
        self.checkouts = sorted(checkouts, key=lambda c: c.at)
        self._next_checkout = 0
        self._next_post = 0
        self._sent = 0
        self.alert: Alert | None = None

    def warm_up(self, components) -> None:
        """A normal week behind every built-in signal, and the coverage rule."""
        warm_up(self.start, components)

    def _ingest(self, posts: list[Post]) -> None:
        items = []
        for post in posts:
            self._sent += 1
            items.append(
                {
                    "id": f"scenario-{self.start:%Y%m%d%H%M}-{self._sent}",
                    "text": post.text,
                    "handle": post.handle,
                    "posted_at": post.at,
                    "place": post.place,
                }
            )
        if items:
            ingest_posts(items)

    def report_checkouts(self, at: datetime) -> None:
        """The web shop's counts for each minute that ended by ``at`` (one report per minute,
        from source "web"; a minute with no orders is not reported). The replay calls it every
        minute, before ``minute``."""
        per_minute: dict[datetime, list[int]] = {}
        while self._next_checkout < len(self.checkouts):
            checkout = self.checkouts[self._next_checkout]
            minute = checkout.at.replace(second=0, microsecond=0)
            if minute + timedelta(minutes=1) > at:
                break
            counts = per_minute.setdefault(minute, [0, 0])
            counts[0] += 1
            counts[1] += bool(checkout.error)
            self._next_checkout += 1
        if per_minute:
            record_checkouts(
                [CheckoutReport(m, total, failed) for m, (total, failed) in per_minute.items()]
            )

    def minute(self, at: datetime) -> Alert | None:
        """Ingest this minute's posts, run detection; the first alert raised."""
        due = []
        while self._next_post < len(self.posts) and self.posts[self._next_post].at < at:
            due.append(self.posts[self._next_post])
            self._next_post += 1
        self._ingest(due)
        services.run_detection(at)
        if self.alert is None:
            self.alert = (
                Alert.objects.filter(
                    started_at__gte=self.since - timedelta(minutes=1),
                    state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
                    paged=True,
                )
                .order_by("started_at", "pk")
                .first()
            )
        return self.alert
