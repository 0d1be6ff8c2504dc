"""A channel that exists only for test_new_channel.py: everything a channel is, in one folder.

Its "provider" is the ``LOFT`` list below (a pigeon loft takes what it is handed), so the test
can read what was delivered.
"""

from __future__ import annotations

from django import forms

from tideover.core.errors import DomainError
from tideover.notifications.channels import Channel, DeliveryError, Rendered, Transport, register

LOFT: list[Rendered] = []


class PigeonTransport(Transport):
    def send(self, message: Rendered) -> str:
        if message.recipient == "loft-13":
            raise DeliveryError("that loft burned down", permanent=True)
        LOFT.append(message)
        return f"ring-{len(LOFT)}"


@register
class PigeonChannel(Channel):
    name = "pigeon"
    label = "Pigeon post"
    public = True
    signup_label = "Carrier pigeon"
    order = 9
    transport = PigeonTransport

    def signup_field(self):
        return "loft", forms.CharField(required=False, max_length=20, label="Your loft")

    def clean_address(self, text: str, *, field: str) -> str:
        loft = (text or "").strip().lower()
        if not loft.startswith("loft-") or not loft[5:].isdigit():
            raise DomainError("A loft looks like loft-7", field=field)
        return loft

    def prepare(self, subscriber) -> None:
        # Nothing to confirm: a pigeon finds only the loft it was raised in.
        subscriber.state = "active"

    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        rendered.text = f"COO: {notification.title}"
        return rendered

    def preview(self, notification) -> dict:
        return {"text": f"COO: {notification.title}"}
