"""The reference loop of bench/notify.py: the same rendered messages sent with one SMTP
connection and one keep-alive HTTP client, no database. bench/notify.py starts it as
``notify.py --bare-loop`` with the messages on stdin."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"


def bare_loop() -> None:
    """The reference: send what stdin lists, one SMTP connection, one HTTP client, no database.

    E-mails are built with Django's mail classes as the outbox's transport builds them
    (``BENCH_BARE_MAIL=stdlib``: with the standard library's EmailMessage, as the figures
    before 2026-11-30 07:00 were; it costs about twice as much CPU per e-mail)."""
    items = json.loads(sys.stdin.read())
    profile_dir = os.environ.get("BENCH_PROFILE")
    if profile_dir and items:
        # --profile: the reference under the same CPU-time profiler as the workers.
        import cProfile

        profile = cProfile.Profile(time.process_time)
        try:
            return profile.runcall(_bare_loop, items)
        finally:
            profile.dump_stats(f"{profile_dir}/bare-{os.getpid()}.prof")
    return _bare_loop(items)


def _bare_loop(items: list) -> None:
    import httpx

    send_mail = _django_mail() if os.environ.get("BENCH_BARE_MAIL") != "stdlib" else _stdlib_mail()
    client = httpx.Client()
    sys.path.insert(0, str(ROOT))
    from tideover.core.http import signed_headers

    first = None
    for item in items:
        if item["channel"] == "email":
            send_mail(item)
        else:
            body = json.dumps(item["payload"], separators=(",", ":"), sort_keys=True).encode()
            client.post(item["to"], content=body, headers=signed_headers(SECRET, body, item["id"]))
        if first is None:
            first = time.time()
    last = time.time()
    send_mail(None)
    print(json.dumps({"first": first or last, "last": last}))


def _django_mail():
    from django.conf import settings

    settings.configure(EMAIL_HOST="127.0.0.1", EMAIL_PORT=int(os.environ["EMAIL_PORT"]))
    from django.core.mail import EmailMultiAlternatives, get_connection

    connection = get_connection("django.core.mail.backends.smtp.EmailBackend")
    connection.open()

    def send(item):
        if item is None:
            return connection.close()
        mail = EmailMultiAlternatives(
            subject=item["subject"],
            body=item["text"],
            from_email="status@bench.example",
            to=[item["to"]],
            headers={"Message-ID": f"<{item['id']}@tideover>", **item["headers"]},
            connection=connection,
        )
        if item["html"]:
            mail.attach_alternative(item["html"], "text/html")
        return mail.send()

    return send


def _stdlib_mail():
    import smtplib
    from email.message import EmailMessage

    smtp = smtplib.SMTP("127.0.0.1", int(os.environ["EMAIL_PORT"]))

    def send(item):
        if item is None:
            return smtp.quit()
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = item["subject"], "status@bench.example", item["to"]
        for key, value in item["headers"].items():
            msg[key] = value
        msg.set_content(item["text"])
        if item["html"]:
            msg.add_alternative(item["html"], subtype="html")
        return smtp.send_message(msg)

    return send
