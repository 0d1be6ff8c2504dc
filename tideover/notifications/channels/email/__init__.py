"""E-mail: a confirmation link at sign-up; plain text plus HTML with a one-click unsubscribe
header; Django's SMTP backend, one connection per batch."""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
import smtplib
from datetime import datetime

from django import forms
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.template.loader import render_to_string
from django.urls import reverse

from tideover.core import http
from tideover.core.emails import clean_email
from tideover.core.text import clean_text
from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport, register


class EmailTransport(Transport):
    def __init__(self):
        self.connection = None

    def open(self) -> None:
        self.connection = get_connection(fail_silently=False)
        # Opened here, Django's backend keeps it for every message of the batch; otherwise it
        # would connect and say HELO for each message.
        try:
            with self._deadline() as outcome:
                self.connection.open()
        except (smtplib.SMTPException, OSError) as exc:
            self.connection = None
            raise _unavailable(exc, timed_out=outcome.timed_out)

    def _deadline(self):
        """EMAIL_TIMEOUT bounds each read; this bounds the whole exchange (connecting, TLS,
        log-in, or one message), so a server that trickles a byte at a time cannot hold the
        worker. The socket to cut is whichever the SMTP connection uses at that moment."""

        def in_use():
            return getattr(getattr(self.connection, "connection", None), "sock", None)

        return http.guarded_sockets(
            public_only=False, seconds=settings.SMTP_DEADLINE_SECONDS, current=in_use
        )

    def close(self) -> None:
        if self.connection is not None:
            # A connection that broke mid-batch may fail to close; that changes nothing.
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def rate_limit(self):
        rate = settings.EMAIL_RATE_PER_SECOND
        return ("email", rate) if rate > 0 else None

    def prepare(self, message: Rendered) -> OutboxEmail:
        """The e-mail, its MIME text built (``OutboxEmail.build``)."""
        mail = OutboxEmail(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": f"<{message.delivery_id}@tideover>", **message.headers},
        )
        mail.delivery_id = message.delivery_id
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        mail.build()
        return mail

    def send(self, message: Rendered) -> str:
        return self.send_prepared(self.prepare(message))

    def send_prepared(self, mail: OutboxEmail) -> str:
        if self.connection is None:
            self.open()
        try:
            with self._deadline() as outcome:
                self._hand_over(mail)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()  # reconnect on the next message
            if outcome.timed_out:  # whatever half an answer the cut left behind
                raise _unavailable(exc, timed_out=True)
            if isinstance(exc, smtplib.SMTPRecipientsRefused):
                raise DeliveryError(f"recipient refused: {_codes(exc)}", permanent=True)
            if isinstance(exc, smtplib.SMTPResponseException):
                permanent = 500 <= exc.smtp_code < 600
                raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=permanent)
            raise _unavailable(exc, timed_out=False)
        return mail.delivery_id

    def _hand_over(self, mail: OutboxEmail) -> None:
        """Give ``mail`` to the SMTP server with the envelope it was built with: what Django's
        SMTP backend does for each e-mail, less working the addresses out again (the standard
        library's header parser, about 40 us an address). Another backend (the console's,
        the tests' in-memory one), or a subclass of Django's SMTP backend (which may sign or
        change what it sends), gets the e-mail as Django sends it."""
        smtp = getattr(self.connection, "connection", None)
        if type(self.connection) is not SmtpBackend or smtp is None or mail.envelope is None:
            mail.connection = self.connection
            mail.send()
            return
        sender, recipients = mail.envelope
        smtp.sendmail(sender, recipients, mail.smtp_text)


class OutboxEmail(EmailMultiAlternatives):
    """Django's e-mail with its multipart boundary chosen when the message is built.

    Left to itself, the standard library's generator picks a random boundary for each message
    and compiles a regular expression to check that no line of the text is that boundary: a
    sixth of the CPU of building an e-mail (docs/benchmarks.md, fifteenth session). Here the
    boundary holds 128 random bits and is checked with a plain search of the parts as given.
    That suffices: Django sends a part as it is or quoted-printable, which adds only ``=XX``
    escapes and soft line breaks (the boundary holds neither ``=`` nor a line break), and base64,
    which a DEFAULT_CHARSET other than UTF-8 may use, has no ``-`` (the boundary does)."""

    delivery_id = ""
    # Set by ``build``: the text and the envelope (sender, recipients) SMTP is given.
    smtp_text: bytes = b""
    envelope: tuple[str, list[str]] | None = None

    def build(self) -> None:
        """Build the MIME message's text for SMTP and its envelope now, so that sending is only
        handing them over."""
        encoding = self.encoding or settings.DEFAULT_CHARSET
        self.smtp_text = self.message().as_bytes(linesep="\r\n")
        self.envelope = (
            _envelope_sender(self.from_email, encoding),
            [_envelope_address(address, encoding) for address in self.recipients()],
        )

    def message(self):
        mime = super().message()
        if mime.is_multipart():
            parts = [self.body, *(content for content, _ in self.alternatives)]
            parts += [attached[1] for attached in self.attachments if isinstance(attached, tuple)]
            mime.set_boundary(_boundary(parts))
        return mime


# Every e-mail has the same sender: its envelope address is worked out once per process
# (Django's sanitize_address parses it with the standard library's header parser each time).
_envelope_sender = functools.lru_cache(maxsize=16)(sanitize_address)


# An address as sign-up stores nearly all of them: ASCII, no display name, a dot-atom local
# part and a domain of labels of 1 to 63 characters. sanitize_address gives such an address back
# as it is (tests/test_email_envelope.py checks that on generated addresses) but only after the
# standard library's header parser (~40 us); such an address skips it.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_PLAIN_ADDRESS = re.compile(
    rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}})*"
)


def _envelope_address(address: str, encoding: str) -> str:
    """``address`` as Django's SMTP backend would give it to SMTP (``sanitize_address``)."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address, encoding)


def _boundary(parts: list) -> str:
    """A multipart boundary that no part holds."""
    while True:
        boundary = f"tideover-{secrets.token_hex(16)}"
        if not any(boundary in part for part in parts if isinstance(part, str)):
            return boundary


def _unavailable(exc: Exception, *, timed_out: bool) -> DeliveryError:
    if timed_out:
        seconds = settings.SMTP_DEADLINE_SECONDS
        return DeliveryError(
            f"the mail server did not finish within {seconds:g} seconds", permanent=False
        )
    return DeliveryError(f"SMTP unavailable: {type(exc).__name__}", permanent=False)


def _codes(exc: smtplib.SMTPRecipientsRefused) -> str:
    # The refused addresses are personal data: keep only the codes.
    return ", ".join(str(code) for code, _ in exc.recipients.values())


def confirmation_key(subscriber) -> str:
    return f"confirm:{subscriber.pk}:{subscriber.token}"


@register
class EmailChannel(Channel):
    name = "email"
    label = "E-mail"
    public = True
    signup_label = "E-mail"
    order = 1
    transport = EmailTransport

    def signup_field(self):
        widget = forms.EmailInput(attrs={"autocomplete": "email"})
        return "email", forms.CharField(
            required=False, max_length=254, label="E-mail address", widget=widget
        )

    def clean_address(self, text: str, *, field: str) -> str:
        return clean_email(text, field=field)

    def clean_target(self, text: str) -> str:
        return clean_email(text)

    def check_signup(self, address: str, *, ip: str, authorised: bool) -> None:
        from tideover.notifications.ratelimit import check_signup

        check_signup(ip=ip, email=address, authorised=authorised)

    def send_confirmation(self, subscriber) -> None:
        from tideover.notifications.models import Category
        from tideover.notifications.outbox import queue_direct

        link = settings.SITE_URL + reverse("notifications:confirm", args=[subscriber.token])
        body = (
            f"Please confirm that you want status updates from {settings.SITE_NAME}:\n\n{link}\n\n"
            "If you did not ask for this, ignore this e-mail and nothing will be sent."
        )
        queue_direct(
            self.name,
            subscriber.address,
            f"Confirm your {settings.SITE_NAME} status updates",
            body,
            confirmation_key(subscriber),
            category=Category.TRANSACTIONAL,
        )

    def confirmation_pending(self, subscriber, since: datetime) -> bool:
        # One confirmation e-mail is on its way: its link still works, send no other.
        from tideover.notifications.models import OutboxMessage

        return OutboxMessage.objects.filter(
            dedupe_key=confirmation_key(subscriber)[:200], created_at__gte=since
        ).exists()

    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        rendered.html = clean_text(render_to_string("notifications/messages/update.html", context))
        unsubscribe = context["unsubscribe_url"]
        if unsubscribe:
            rendered.headers = {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        return rendered

    def preview(self, notification) -> dict:
        from tideover.notifications.rendering import render_notification, unsubscribe_url

        email = render_notification(
            notification, self.name, "", internal=False, unsubscribe=unsubscribe_url("TOKEN")
        )
        return {"subject": email.subject, "text": email.text, "html": email.html}
