"""What Detect sees during a replay, in the scenario's minutes: the share of stores whose agent
can reach HQ (heartbeat coverage), the posts about the brand, and (derived by Detect itself from
the sales the agents post) the failure and decline rate. Detection runs minute by minute; the
first alert it raises is what the commander declares from.

Before the trouble starts the world is normal for a while (``WARM_UP``): full coverage and the
usual chatter, so the detectors know what normal looks like when the failure comes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tideover.detect import derived, services
from tideover.detect.models import Alert, AlertState
from tideover.detect.social import ingest_posts
from tideover.scenarios.social import Post

WARM_UP = timedelta(hours=3)


class Watch:
    def __init__(self, start: datetime, posts: list[Post]):
        self.start = start
        self.posts = posts
        self._next_post = 0
        self._sent = 0
        self.alert: Alert | None = None
        for slug in (derived.HEARTBEATS, derived.SOCIAL_COMPLAINTS, derived.SOCIAL_NEGATIVE):
            derived.builtin(slug)

    def warm_up(self, warm_posts: list[Post]) -> None:
        """The hours before: every agent checking in, the usual posts, detection running."""
        minutes = int(WARM_UP / timedelta(minutes=1))
        services.record_points(
            [
                (derived.HEARTBEATS, self.start - timedelta(minutes=m), 100.0)
                for m in range(minutes, 0, -1)
            ]
        )
        self._ingest(warm_posts)
        for m in range(minutes, 0, -5):
            services.run_detection(self.start - timedelta(minutes=m))

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
