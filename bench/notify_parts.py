"""Where an outbox worker's CPU goes, part by part, against the bare loop, in one process.

    .venv/bin/python bench/notify_parts.py                     # SQLite, 10,000 subscribers
    .venv/bin/python bench/notify_parts.py --db postgresql --subscribers 20000

bench/notify.py gives the figure (messages/s against the bare loop, two processes each); this
says what the difference is made of. One process queues an update to ``--subscribers`` (half
e-mail, half webhooks, to bench/receivers.py), renders one message (so the URLconf and the
templates are loaded before timing, as in a worker that has sent before), then drains the
outbox with a CPU timer (``time.process_time``) around each part of delivery, and then sends
the same rendered messages the way the bare loop does, timed the same way. Printed: each part
in microseconds of CPU per message sent (parts nest: a transport's send is inside
``deliver_one``), the drain's total and the bare loop's. Each timer adds about a microsecond
to what it wraps. The database and the receivers' CPU are not counted (other processes).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notify_bare import SECRET
from notify_meters import start_receivers

ROOT = Path(__file__).resolve().parent.parent
PG_NAME = "tideover_bench_parts"

spent: collections.Counter = collections.Counter()
calls: collections.Counter = collections.Counter()


def timed(owner, name: str, label: str) -> None:
    """Replace ``owner.name`` with itself under a CPU timer counted as ``label``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
            calls[label] += 1

    setattr(owner, name, wrapper)


def prepare(subscribers: int, http_port: int) -> None:
    from django.core.management import call_command

    from tideover.core.models import Component
    from tideover.incidents import services as incidents
    from tideover.incidents.models import Severity
    from tideover.notifications.demo import seed_subscribers
    from tideover.notifications.models import OutboxMessage

    call_command("migrate", verbosity=0)
    incidents.ensure_default_severities()
    checkout, _ = Component.objects.get_or_create(
        slug="in-store-checkout", defaults={"name": "In-store checkout"}
    )
    half = subscribers // 2
    seed_subscribers(
        {"email": half, "webhook": subscribers - half},
        webhook_url=f"http://127.0.0.1:{http_port}/hook",
        webhook_secret=SECRET,
    )
    incident = incidents.declare_incident(
        title="Registers offline in 150 stores",
        severity=Severity.objects.get(level=1),
        components={checkout: "major_outage"},
    )
    OutboxMessage.objects.all().delete()
    incidents.post_public_update(incident, "Registers are offline in 150 stores; cash works.")


def time_the_parts() -> None:
    from django.db.models.query import QuerySet

    from tideover.notifications import delivery, outbox
    from tideover.notifications.channels.email import EmailTransport
    from tideover.notifications.channels.webhook import WebhookTransport

    timed(outbox, "deliver_claimed", "deliver_claimed (everything)")
    timed(outbox, "claim_batch", "claim_batch")
    timed(QuerySet, "_fetch_all", "ORM reads (the batch, its notifications)")
    timed(outbox, "deliver_one", "deliver_one (e-mail: all of it)")
    timed(outbox, "deliver_batch", "deliver_batch (webhooks: all of it)")
    timed(delivery.SentMarks, "sending", "SentMarks.sending (the per-e-mail mark)")
    timed(delivery, "execute_prepared", "  of which the statement")
    timed(delivery, "render", "render")
    timed(delivery, "cancel_reason", "cancel_reason")
    timed(EmailTransport, "send", "EmailTransport.send")
    timed(WebhookTransport, "send", "WebhookTransport.send")


def bare_loop(rendered: list) -> float:
    """The bare loop's sending (bench/notify_bare.py), here: CPU seconds for ``rendered``."""
    import httpx
    from django.core.mail import EmailMultiAlternatives, get_connection

    from tideover.core.http import signed_headers

    mail = get_connection("django.core.mail.backends.smtp.EmailBackend")
    mail.open()
    client = httpx.Client()
    started = time.process_time()
    for r in rendered:
        if r.channel == "email":
            message = EmailMultiAlternatives(
                subject=r.subject,
                body=r.text,
                from_email="status@bench.example",
                to=[r.recipient],
                headers={"Message-ID": f"<{r.delivery_id}@tideover>", **r.headers},
                connection=mail,
            )
            if r.html:
                message.attach_alternative(r.html, "text/html")
            message.send()
        else:
            body = json.dumps(r.payload, separators=(",", ":"), sort_keys=True).encode()
            client.post(
                r.recipient, content=body, headers=signed_headers(SECRET, body, r.delivery_id)
            )
    seconds = time.process_time() - started
    mail.close()
    client.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    receivers, smtp_port, http_port = start_receivers("lean")
    data = tempfile.mkdtemp(prefix="tideover-bench-parts-")
    if args.db == "postgresql":
        for command in ("dropdb", "createdb"):
            extra = ["--if-exists"] if command == "dropdb" else []
            subprocess.run(
                [command, "-h", "127.0.0.1", "-U", "postgres", *extra, PG_NAME], check=True
            )
        url = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
    else:
        url = f"sqlite:///{data}/bench.sqlite3"
    os.environ.update(
        DATABASE_URL=url,
        TIDEOVER_DATA_DIR=data,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        WEBHOOK_ALLOW_PRIVATE="true",
        NOTIFY_ENQUEUE_TASKS="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="tideover.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from tideover.notifications import outbox, rendering
    from tideover.notifications.models import OutboxMessage

    try:
        prepare(args.subscribers, http_port)
        queued = OutboxMessage.objects.select_related(
            "notification__incident", "subscriber"
        ).order_by("pk")
        rendering.render(queued.first())  # load the URLconf and templates before timing
        time_the_parts()
        started = time.process_time()
        counts = outbox.drain()
        drained = time.process_time() - started
        sent = counts.get("sent", 0)
        parts, counted = dict(spent), dict(calls)  # the drain's alone
        rendered = [rendering.render(m) for m in queued]
        bare = bare_loop(rendered)
    finally:
        for process in receivers:
            process.terminate()
            process.wait(10)
    print(f"{args.db}, {args.subscribers:,} subscribers: {counts}")
    print(f"{'part':<45}{'us CPU per message':>20}{'calls':>8}")
    for label, seconds in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"{label:<45}{seconds * 1e6 / sent:>20.1f}{counted[label]:>8,}")
    print(f"{'drain, all told':<45}{drained * 1e6 / sent:>20.1f}")
    print(f"{'bare loop, the same messages':<45}{bare * 1e6 / len(rendered):>20.1f}")
    print(f"bare loop / drain: {bare / len(rendered) / (drained / sent):.0%}")


if __name__ == "__main__":
    main()
