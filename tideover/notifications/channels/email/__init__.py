"""E-mail through Django's SMTP backend: plain text plus HTML, one connection per batch."""

from __future__ import annotations

import contextlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from tideover.notifications.channels import DeliveryError, Rendered, Transport, register


@register
class EmailTransport(Transport):
    channel = "email"

    def __init__(self):
        self.connection = None

    def open(self) -> None:
        self.connection = get_connection(fail_silently=False)
        # Opened here, Django's backend keeps it for every message of the batch; otherwise it
        # would connect and say HELO for each message.
        try:
            self.connection.open()
        except (smtplib.SMTPException, OSError) as exc:
            self.connection = None
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}", permanent=False)

    def close(self) -> None:
        if self.connection is not None:
            # A connection that broke mid-batch may fail to close; that changes nothing.
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def rate_limit(self):
        rate = settings.EMAIL_RATE_PER_SECOND
        return ("email", rate) if rate > 0 else None

    def send(self, message: Rendered) -> str:
        if self.connection is None:
            self.open()
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": f"<{message.delivery_id}@tideover>", **message.headers},
            connection=self.connection,
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            raise DeliveryError(f"recipient refused: {_codes(exc)}", permanent=True)
        except smtplib.SMTPResponseException as exc:
            self.close()
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=permanent)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()  # reconnect on the next message
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}", permanent=False)
        return message.delivery_id


def _codes(exc: smtplib.SMTPRecipientsRefused) -> str:
    # The refused addresses are personal data: keep only the codes.
    return ", ".join(str(code) for code, _ in exc.recipients.values())
