"""Signed JSON POSTs (see tideover.core.http for the signature scheme)."""

from __future__ import annotations

import httpx

from tideover.core import http
from tideover.notifications.channels import DeliveryError, Rendered, Transport, register


@register
class WebhookTransport(Transport):
    channel = "webhook"
    # Every attempt carries the same Tideover-Delivery id and receivers drop repeats, so a
    # message left 'sending' by a dead worker is sent again rather than given up.
    idempotent = True

    def send(self, message: Rendered) -> str:
        try:
            response = http.post_signed_json(
                message.recipient,
                message.payload,
                secret=message.secret,
                delivery_id=message.delivery_id,
            )
        except http.UnsafeAddress as exc:
            raise DeliveryError(f"webhook refused: {exc}", permanent=True)
        except http.ResponseTooLarge:
            raise DeliveryError("webhook answered with too long a body", permanent=False)
        except httpx.TimeoutException:
            raise DeliveryError("webhook timed out", permanent=False)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", permanent=False)
        status = response.status_code
        if 200 <= status < 300:
            return message.delivery_id
        # 408 and 429 ask us to come back later; other 4xx will not get better by retrying.
        permanent = 400 <= status < 500 and status not in (408, 409, 425, 429)
        raise DeliveryError(f"webhook answered HTTP {status}", permanent=permanent)
