"""What one counted attempt on the public forms costs, on each store the limits can live in.

    .venv/bin/python bench/ratelimit.py [--hits 2000] [--rounds 5] [--postgres URL] [--redis URL]

Times ``tideover.notifications.ratelimit.hit`` (the limits library's fixed window) on the
database store (a fresh SQLite file; PostgreSQL when --postgres names a database it may create
tables in) and on Redis (when --redis is given), against the reference measured in the same run:
the old counting, the file cache's ``add`` + ``incr`` (which could not keep an hour's count).
Prints the median microseconds per hit of each round. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time


def per_hit_us(fn, hits: int, rounds: int) -> float:
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(hits):
            fn(i)
        results.append((time.perf_counter() - started) / hits * 1e6)
    return statistics.median(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="", help="postgresql://... (tables are created)")
    parser.add_argument("--redis", default="", help="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="tideover-bench-ratelimit-")
    os.environ["TIDEOVER_DATA_DIR"] = tmp
    os.environ["DATABASE_URL"] = args.postgres or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command

    from tideover.notifications import ratelimit

    call_command("migrate", "notifications", verbosity=0)

    def old_file_cache(i: int) -> None:
        key = f"bench:{i % 50}"
        cache.add(key, 0, timeout=3660)
        cache.incr(key)

    def limiter_hit(i: int) -> None:
        ratelimit.hit("bench", f"v{i % 50}", 10**9, 3600)

    engine = "PostgreSQL" if args.postgres else "SQLite"
    rows = [
        (f"limits on the database ({engine})", per_hit_us(limiter_hit, args.hits, args.rounds)),
        ("reference: file cache add + incr", per_hit_us(old_file_cache, args.hits, args.rounds)),
    ]
    if args.redis:
        settings.REDIS_URL = args.redis
        settings.CACHES["default"]["KEY_PREFIX"] = f"bench-{os.getpid()}"
        rows.append(("limits on Redis", per_hit_us(limiter_hit, args.hits, args.rounds)))
        ratelimit.limiter().storage.storage.delete(
            *ratelimit.limiter().storage.storage.keys(f"tideover-limits:bench-{os.getpid()}*")
        )
    print(f"{args.hits} hits x {args.rounds} rounds, median microseconds per hit", file=sys.stderr)
    for name, value in rows:
        print(f"{name:45s} {value:8.0f} us")


if __name__ == "__main__":
    main()
