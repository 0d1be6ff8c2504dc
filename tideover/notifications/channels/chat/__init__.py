"""Chat rooms (Slack, Teams, Discord, ...) by apprise URL, for staff channels."""

from __future__ import annotations

from tideover.notifications.channels import DeliveryError, Rendered, Transport, register


@register
class ChatTransport(Transport):
    channel = "chat"

    def send(self, message: Rendered) -> str:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(message.recipient):
            raise DeliveryError("not an apprise URL this installation understands", permanent=True)
        if not notifier.notify(title=message.subject, body=message.text):
            raise DeliveryError("the chat service did not accept the message", permanent=False)
        return message.delivery_id
