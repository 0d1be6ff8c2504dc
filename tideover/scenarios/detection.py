"""What Detect sees during a replay, in the scenario's minutes: the share of stores whose agent
can reach HQ (heartbeat coverage), the posts about the brand, and (derived by Detect itself from
the sales the agents post) the failure and decline rate. Detection runs minute by minute; the
first alert it raises is what the commander declares from.

Before the trouble starts the detectors are given a week of ordinary minutes (Detect's own
``replay.warm_up``: coverage near 100%, the odd complaint and declined card) and the rule
"heartbeat coverage below 90% for 3 minutes", so they know what normal looks like.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tideover.detect import derived, services
from tideover.detect.models import Alert, AlertState
from tideover.detect.replay import warm_up
from tideover.detect.social import ingest_posts
from tideover.scenarios.social import Post


class Watch:
    def __init__(self, start: datetime, posts: list[Post]):
        self.start = start
        self.posts = posts
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

    def minute(self, at: datetime, coverage: float) -> Alert | None:
        """Record this minute's coverage and posts, run detection; the first alert raised."""
        services.record_point(derived.HEARTBEATS, at, round(coverage * 100, 2))
        due = []
        while self._next_post < len(self.posts) and self.posts[self._next_post].at < at:
            due.append(self.posts[self._next_post])
            self._next_post += 1
        self._ingest(due)
        services.run_detection(at)
        if self.alert is None:
            self.alert = (
                Alert.objects.filter(
                    started_at__gte=self.start - timedelta(minutes=1),
                    state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
                    paged=True,
                )
                .order_by("started_at", "pk")
                .first()
            )
        return self.alert
