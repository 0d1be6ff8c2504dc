"""Building an e-mail as the outbox's transport does (``OutboxEmail``: its multipart boundary
chosen when the message is built) against Django's ``EmailMultiAlternatives`` as it is (the
standard library's generator picks the boundary and checks it with a regular expression
compiled for each message), on the same messages, in turns, in one process; no network.

    .venv/bin/python bench/email_build.py                    # 3,000 messages, 5 rounds
    .venv/bin/python bench/email_build.py --messages 10000 --rounds 3

Each message is what a status update to a subscriber is: a subject, the text and its HTML
(about 750 characters each), a Message-ID and the one-click unsubscribe headers; each is built
and turned into the bytes the SMTP backend sends (``message().as_bytes()``). Printed: CPU
microseconds per message for each side (median of the rounds, the rounds after it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from fresh_db import in_turns, medians

ROOT = Path(__file__).resolve().parent.parent

TEXT = "Card payments are failing in some stores; cash and gift cards work. " * 11
HTML = f"<h1>Card payments failing</h1><p>{TEXT}</p>"


def build_all(mail_class, count: int) -> float:
    """CPU seconds to build ``count`` e-mails with ``mail_class`` and render their bytes."""
    started = time.process_time()
    for i in range(count):
        mail = mail_class(
            subject="[Tideover] Card payments failing",
            body=TEXT,
            from_email="status@tideover.invalid",
            to=[f"shopper{i}@example.com"],
            headers={
                "Message-ID": f"<bench-{i}@tideover>",
                "List-Unsubscribe": f"<https://status.example/unsubscribe/t{i}/>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        mail.attach_alternative(HTML, "text/html")
        mail.message().as_bytes(linesep="\r\n")
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    import django

    django.setup()
    from django.core.mail import EmailMultiAlternatives

    from tideover.notifications.channels.email import OutboxEmail

    # "today" is the transport's class, "before" Django's as the transport used it before.
    sides = {"today": OutboxEmail, "before": EmailMultiAlternatives}
    names = {"today": "OutboxEmail (the transport's)", "before": "EmailMultiAlternatives"}
    for mail_class in sides.values():
        build_all(mail_class, 200)  # imports and first-use caches, on neither side's clock

    def one_round(way: str) -> dict:
        return {"cpu_us": build_all(sides[way], args.messages) * 1e6 / args.messages}

    results = in_turns(args.rounds, one_round)
    print(f"{args.messages:,} e-mails built and rendered to bytes, {args.rounds} rounds in turns")
    print(f"{'':32}{'CPU us/msg':>11}  rounds")
    for way, rounds in results.items():
        listed = ", ".join(f"{r['cpu_us']:.0f}" for r in rounds)
        print(f"{names[way]:32}{medians(rounds)['cpu_us']:11.1f}  {listed}")


if __name__ == "__main__":
    main()
