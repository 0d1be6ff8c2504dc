"""Stand-ins the notification tests share for channels they define to probe delivery."""

from __future__ import annotations

from collections.abc import Iterator

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
