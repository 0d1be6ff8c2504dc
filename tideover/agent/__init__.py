"""The store agent: keeps a store selling when HQ is out of reach.

Not a Django app of HQ. It runs on a store's small box with its own SQLite database and talks to
HQ only through HQ's HTTP API; the one thing it shares with HQ's code is the request shape of a
sale (``tideover.sales.schemas``), which imports no Django. ``tideover agent run`` starts it.

- ``journal``: the durable queue (SQLite, WAL, synchronous=FULL); a sale is on disk before the
  register hears "accepted".
- ``policy``: the offline card policy and provisional loyalty points.
- ``hq``: the one HTTP client to HQ.
- ``forwarder``: sends queued sales to HQ oldest first, marks each by HQ's answer.
- ``service``: accept sales, modes, heartbeats; ``server``: the HTTP API and status page.
"""

VERSION = "0.1.0"
