"""Demo helpers: subscribers on every channel, and local servers that receive what is sent.

The demo command calls::

    sinks = start_local_sinks(data_dir)      # SMTP + webhook/Twilio/chat receiver, subprocesses
    os.environ.update(sinks.env)             # before the web and worker processes start
    seed_subscribers({"email": 300, "sms": 50, "webhook": 5})
    seed_staff_channels()
    ...
    for process in sinks: process.terminate()

E-mails land as .eml files in ``data/outbox-mail/``; webhooks (signature verified, repeats
dropped) as JSON lines in ``data/webhooks.log``; SMS and chat posts are answered like Twilio and
apprise's json:// target would, and counted.
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tideover.notifications.sinks import _free_port

DEMO_TWILIO_SID = "AC" + "d" * 32
DEMO_TWILIO_TOKEN = "demo-twilio-auth-token"  # only ever used against the local sink


class LocalSinks(list):
    """The sink processes (a list of Popen) plus ``env``: what web and worker need to use them."""

    env: dict[str, str]

    def stop(self) -> None:
        for process in self:
            process.terminate()
        for process in self:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()


def _start(args: list[str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "tideover.notifications.sinks", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()  # "listening 127.0.0.1:PORT" once it accepts connections
    if not line.startswith("listening"):
        process.kill()
        raise RuntimeError(f"local sink did not start: {args[0]}")
    return process


def start_local_sinks(data_dir: str | Path) -> LocalSinks:
    """Start the local SMTP server and webhook receiver on free 127.0.0.1 ports."""
    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    smtp_port, http_port = _free_port(), _free_port()
    secret = secrets.token_hex(16)
    sinks = LocalSinks()
    # --no-keep: the sinks write files and count; holding every message parsed in memory too
    # would only cost the demo's two cores time (nobody reads a sink process's memory).
    sinks.append(
        _start(["smtp", "--port", str(smtp_port), "--dir", str(data / "outbox-mail"), "--no-keep"])
    )
    sinks.append(
        _start(
            [
                "http",
                "--port",
                str(http_port),
                "--log",
                str(data / "webhooks.log"),
                "--secret",
                secret,
                "--no-keep",
            ]
        )
    )
    base = f"http://127.0.0.1:{http_port}"
    sinks.env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "TWILIO_ACCOUNT_SID": DEMO_TWILIO_SID,
        "TWILIO_AUTH_TOKEN": DEMO_TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+15125550100",
        "TWILIO_API_BASE": base,
        # The local sink is no carrier: at 50 a second the demo's 1,500 SMS slept half a minute.
        "SMS_RATE_PER_SECOND": "1000",
        # Private addresses are allowed for this receiver only, not for anyone's sign-up.
        "WEBHOOK_PRIVATE_ALLOWLIST": f"127.0.0.1:{http_port}",
        "DEMO_WEBHOOK_URL": f"{base}/hooks/demo",
        "DEMO_WEBHOOK_SECRET": secret,
        "DEMO_CHAT_URL": f"json://127.0.0.1:{http_port}/chat",
    }
    return sinks


def seed_subscribers(
    count_by_channel: dict[str, int],
    *,
    webhook_url: str = "",
    webhook_secret: str = "",
    seed: int = 4,
) -> dict[str, int]:
    """Bulk-insert active subscribers, e.g. {"email": 300, "sms": 50, "webhook": 5}.

    A third follow one or two chosen components; the rest follow everything. Returns counts.
    """
    from tideover.core.models import Component
    from tideover.notifications.models import Subscriber, Subscription

    webhook_url = webhook_url or os.environ.get("DEMO_WEBHOOK_URL", "http://127.0.0.1:9/hooks/demo")
    webhook_secret = webhook_secret or os.environ.get("DEMO_WEBHOOK_SECRET", "demo-secret")
    rng = random.Random(seed)
    component_ids = list(Component.objects.filter(is_public=True).values_list("pk", flat=True))
    now = timezone.now()
    start = Subscriber.objects.count()
    rows, chosen = [], []
    for channel, count in count_by_channel.items():
        for i in range(count):
            n = start + len(rows)
            address = {
                "email": f"shopper{n}@example.com",
                "sms": f"+1512{2000000 + n:07d}",
                "webhook": f"{webhook_url}?s={n}",
            }[channel]
            follows_some = bool(component_ids) and rng.random() < 1 / 3
            rows.append(
                Subscriber(
                    channel=channel,
                    address=address,
                    state="active",
                    all_components=not follows_some,
                    secret=webhook_secret if channel == "webhook" else "",
                    country="US" if channel == "sms" else "",
                    source="demo",
                    created_at=now,
                    confirmed_at=now,
                    token=secrets.token_urlsafe(24),
                )
            )
            if follows_some:
                chosen.append(
                    (len(rows) - 1, rng.sample(component_ids, min(2, len(component_ids))))
                )
            del i
    with transaction.atomic():
        created = Subscriber.objects.bulk_create(rows, batch_size=5000)
        if not all(s.pk for s in created):  # backends that do not return ids (none we use)
            by_token = dict(
                Subscriber.objects.filter(token__in=[s.token for s in rows]).values_list(
                    "token", "pk"
                )
            )
            for s in created:
                s.pk = by_token[s.token]
        Subscription.objects.bulk_create(
            [
                Subscription(subscriber_id=created[index].pk, component_id=cid)
                for index, cids in chosen
                for cid in cids
            ],
            batch_size=5000,
        )
    return {channel: count for channel, count in count_by_channel.items()}


def seed_staff_channels() -> int:
    """A '#store-ops' chat room and an ops e-mail list, pointed at the local sinks."""
    from tideover.notifications.models import ChannelEndpoint

    made = 0
    chat = os.environ.get("DEMO_CHAT_URL", "json://127.0.0.1:9/chat")
    for name, channel, target in (
        ("#store-ops (chat)", "chat", chat),
        ("ops-oncall@ e-mail list", "email", "ops-oncall@tideover-demo.example"),
    ):
        _, was_made = ChannelEndpoint.objects.get_or_create(
            name=name, defaults={"channel": channel, "target": target}
        )
        made += was_made
    return made


def wait_for_outbox(timeout: float = 60.0) -> bool:
    """Block until nothing is waiting in the outbox (for the demo's summary)."""
    from tideover.notifications.models import OutboxMessage

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due = Q(state="queued", next_attempt_at__lte=timezone.now())
        if not OutboxMessage.objects.filter(due | Q(state__in=("claimed", "sending"))).exists():
            return True
        time.sleep(0.5)
    return False
