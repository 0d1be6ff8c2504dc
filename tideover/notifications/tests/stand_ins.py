"""Stand-ins the notification tests share for channels they define to probe delivery."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address

from tideover.notifications import channels
from tideover.notifications.channels import Channel, Rendered, Transport


class AcceptingTransport(Transport):
    """Accepts every message at once, as a provider that answers 'accepted' would."""

    def send(self, message: Rendered) -> str:
        return f"accepted-{message.delivery_id}"


def registered(channel: type[Channel]) -> Iterator[type[Channel]]:
    """For a fixture: ``channel`` registered while the test runs, gone after it."""
    channels.register(channel)
    try:
        yield channel
    finally:
        channels.unregister(channel.name)


class StampingSmtpBackend(EmailBackend):
    """Django's SMTP backend putting a header of its own before each e-mail it sends, as one
    that signs what it sends (DKIM) does."""

    def _send(self, email_message):
        text = email_message.message().as_bytes(linesep="\r\n")
        sender = sanitize_address(email_message.from_email, "utf-8")
        recipients = [sanitize_address(a, "utf-8") for a in email_message.recipients()]
        self.connection.sendmail(sender, recipients, b"X-Stamped: yes\r\n" + text)
        return True
