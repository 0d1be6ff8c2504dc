"""Chat rooms (Slack, Teams, Discord, ...) by apprise URL, for staff channels only.

Apprise makes its own connections; they run under ``tideover.core.http.guarded_sockets``, so
chat obeys the rules every webhook does: public addresses only (or WEBHOOK_PRIVATE_ALLOWLIST),
connected to as checked, cut off at HTTP_DEADLINE_SECONDS, answers read up to
HTTP_MAX_RESPONSE_BYTES.
"""

from __future__ import annotations

from django.conf import settings

from tideover.core import http
from tideover.core.errors import DomainError
from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport, register


class ChatTransport(Transport):
    def send(self, message: Rendered) -> str:
        import apprise

        # Neither apprise's async mode nor its own service timeout: both run the post on its
        # worker threads, outside this thread's guard (and the timeout only stops waiting,
        # leaving the thread stuck). The guard's deadline cuts the connection instead.
        asset = apprise.AppriseAsset(async_mode=False, service_timeout=0)
        notifier = apprise.Apprise(asset=asset)
        if not notifier.add(message.recipient):
            raise DeliveryError("not an apprise URL this installation understands", permanent=True)
        try:
            with http.guarded_sockets(public_only=True) as outcome:
                sent = notifier.notify(title=message.subject, body=message.text)
        except http.UnsafeAddress as exc:
            raise DeliveryError(f"chat refused: {exc}", permanent=True)
        except http.ResponseTooLarge:
            pass  # apprise let it through; outcome.too_large says so below
        if outcome.refused:
            raise DeliveryError(f"chat refused: {outcome.refused}", permanent=True)
        if outcome.too_large:
            # As for a webhook: the post may have been taken; the answer was not read.
            raise DeliveryError(f"the chat service answered: {outcome.too_large}", permanent=False)
        if outcome.timed_out:
            raise DeliveryError(
                f"the chat service did not answer within {settings.HTTP_DEADLINE_SECONDS:g} "
                "seconds",
                permanent=False,
            )
        if not sent:
            raise DeliveryError("the chat service did not accept the message", permanent=False)
        return message.delivery_id


@register
class ChatChannel(Channel):
    name = "chat"
    label = "Chat (Slack, Teams, ...)"
    transport = ChatTransport

    def clean_target(self, text: str) -> str:
        import apprise

        target = (text or "").strip()
        if not apprise.Apprise().add(target):
            raise DomainError(
                "Not an apprise URL (e.g. slack://... or msteams://...)", field="target"
            )
        return target

    def preview(self, notification) -> dict:
        from tideover.notifications.rendering import render_notification

        chat = render_notification(notification, self.name, "", internal=True)
        return {"title": chat.subject, "text": chat.text}
