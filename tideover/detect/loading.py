"""Reading points, events and social posts from CSV or JSON-lines files.

Points: columns ``signal,minute,value`` (CSV with a header, or one JSON object a line); with a
fixed signal the ``signal`` column may be left out. A line with ``at`` instead of ``minute`` is
an event (``signal,at[,store,key,cause]``). Posts: ``id,text,handle,posted_at[,place]``.
A bad line is reported with its number and skipped; good lines load.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tideover.core.models import Store
from tideover.detect import social
from tideover.detect.signals import record_event, record_points

BATCH = 2000


@dataclass
class LoadReport:
    points: dict[str, int] = field(default_factory=dict)
    events: int = 0
    posts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, counter: dict, key: str, n: int = 1) -> None:
        counter[key] = counter.get(key, 0) + n


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        first = handle.readline()
        handle.seek(0)
        if first.lstrip().startswith("{"):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as error:
                        yield number, {"_error": f"not JSON ({error.msg})"}
                        continue
                    # A number or a list is valid JSON but not a row: name the line, go on.
                    yield number, row if isinstance(row, dict) else {"_error": "not a JSON object"}
        else:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, row


def load_file(path: Path, *, signal: str | None = None, posts: bool = False) -> LoadReport:
    report = LoadReport()
    batch: list[tuple[int, tuple]] = []

    def flush():
        results = record_points([item for _, item in batch])
        for (number, _), result in zip(batch, results, strict=True):
            report.add(report.points, result.result)
            if result.result == "rejected":
                report.errors.append(f"line {number}: {result.reason}")
        batch.clear()

    post_batch: list[dict] = []
    for number, row in _rows(Path(path)):
        if "_error" in row:
            report.errors.append(f"line {number}: {row['_error']}")
            continue
        try:
            if posts:
                post_batch.append(
                    {
                        "id": str(row["id"]),
                        "text": str(row["text"]),
                        "handle": str(row.get("handle") or ""),
                        "posted_at": social.parse_time(str(row["posted_at"])),
                        "place": str(row.get("place") or ""),
                    }
                )
                if len(post_batch) >= BATCH:
                    for result in social.ingest_posts(post_batch):
                        report.add(report.posts, result.result)
                    post_batch.clear()
            elif row.get("at"):
                store = None
                if row.get("store"):
                    store = Store.objects.filter(code=row["store"]).first()
                    if store is None:
                        raise ValueError(f"no store {row['store']!r}")
                record_event(
                    row.get("signal") or signal,
                    social.parse_time(str(row["at"])),
                    store=store,
                    key=row.get("key") or None,
                    cause=row.get("cause") or "",
                )
                report.events += 1
            else:
                slug = row.get("signal") or signal
                if not slug:
                    raise ValueError("no signal column and no --signal given")
                batch.append((number, (slug, social.parse_time(str(row["minute"])), row["value"])))
                if len(batch) >= BATCH:
                    flush()
        except KeyError as error:
            report.errors.append(f"line {number}: missing {error.args[0]!r}")
        except Exception as error:  # noqa: BLE001 - a bad line is reported, not fatal
            message = getattr(error, "message", None) or str(error)
            report.errors.append(f"line {number}: {message}")
    if batch:
        flush()
    if post_batch:
        for result in social.ingest_posts(post_batch):
            report.add(report.posts, result.result)
    return report
