"""What shoppers post about the brand during a scenario: the usual chatter, and complaints
that match what is broken (register trouble, declined cards, web checkout errors, missing
points). Made from the scenario's seed, so a replay is reproducible; a scenario may also bring
its own stream as a JSON-lines file (``social.file``: text, handle, at, optional place)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tideover.scenarios.schema import FailureKind, Scenario

CHATTER = [
    "Picked up groceries at {brand} after work, quick in and out",
    "{brand} has the good coffee on sale this week",
    "Anyone know if {brand} is open late on Sunday?",
    "Love the new self checkout at my {brand}",
    "Got my reward from {brand} today, nice",
    "The staff at {brand} on Main St are so friendly",
]
COMPLAINTS = {
    FailureKind.REGISTERS_LOSE_HQ: [
        "registers down at {brand} again?? line out the door #{brand}outage",
        "{brand} registers are frozen, cashier says the system is down",
        "stuck at {brand} checkout for 20 minutes, nothing works #{brand}outage",
        "cant pay at {brand} right now, the tills keep failing",
        "is {brand} down everywhere? my store cant ring anything up",
    ],
    FailureKind.CARD_PROCESSOR_DOWN: [
        "my card got declined at {brand} and I have money on it?? #{brand}outage",
        "{brand} card machine not working, cash only. who carries cash anymore",
        "can't pay with card at {brand} tonight, card reader keeps failing",
        "{brand} says cards are down, had to leave my cart",
    ],
    FailureKind.WEB_CHECKOUT_ERRORS: [
        "{brand} website keeps giving an error at checkout #{brand}outage",
        "tried to order from {brand} online 3 times, checkout fails every time",
        "{brand} app checkout broken, payment error again",
        "is the {brand} site down? can't place my order",
    ],
    FailureKind.LOYALTY_POSTING_DELAYED: [
        "my {brand} points from today aren't showing up",
        "{brand} rewards app shows no points for my purchase this morning",
        "where are my {brand} points?? they expire tomorrow",
    ],
}


@dataclass(frozen=True)
class Post:
    text: str
    handle: str
    at: datetime
    place: str = ""

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "handle": self.handle,
            "at": self.at.isoformat(),
            "place": self.place,
        }


def _count(rng: random.Random, per_minute: float) -> int:
    whole = int(per_minute)
    return whole + (1 if rng.random() < per_minute - whole else 0)


def make_posts(
    scenario: Scenario,
    start: datetime,
    minutes: int,
    base_dir: Path | None = None,
) -> list[Post]:
    """Every post of the day in time order: from the file when the scenario names one,
    otherwise chatter all day and complaints while a failure lasts (rising over its first
    quarter hour, as word spreads)."""
    social = scenario.social
    if social.file:
        return load_posts((base_dir or Path.cwd()) / social.file)
    rng = random.Random(scenario.seed * 7 + 1)
    brand = social.brand
    posts = []
    for minute in range(minutes):
        offset = timedelta(minutes=minute)
        at = start + offset
        for _ in range(_count(rng, social.normal_per_minute)):
            posts.append(
                Post(
                    rng.choice(CHATTER).format(brand=brand), f"@shopper{rng.randrange(10_000)}", at
                )
            )
        for failure in scenario.failures:
            if not failure.at <= offset < failure.until:
                continue
            ramp = min(1.0, (offset - failure.at) / timedelta(minutes=15) + 0.1)
            for _ in range(
                _count(rng, social.complaints_per_minute * ramp / len(scenario.failures))
            ):
                text = rng.choice(COMPLAINTS[failure.kind]).format(brand=brand)
                posts.append(
                    Post(
                        text,
                        f"@shopper{rng.randrange(10_000)}",
                        at + timedelta(seconds=rng.randrange(60)),
                    )
                )
    posts.sort(key=lambda p: p.at)
    return posts


def load_posts(path: Path) -> list[Post]:
    """A JSON-lines file of posts; a bad line is an error naming it."""
    posts = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                posts.append(
                    Post(
                        str(row["text"]),
                        str(row.get("handle", "")),
                        datetime.fromisoformat(row["at"]),
                        str(row.get("place", "")),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path} line {number}: a post needs text and at (ISO time): {exc}"
                )
    posts.sort(key=lambda p: p.at)
    return posts
