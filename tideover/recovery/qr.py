"""The QR code shown in a store: a signed link to the shopper's own sign-up page for one
incident and one store. It cannot be forged (HMAC with the secret key) and stops working when
the incident's recovery window closes."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core import signing
from django.urls import reverse

from tideover.core.errors import DomainError, NotFound
from tideover.core.models import Store
from tideover.incidents.models import Incident
from tideover.recovery.capture import check_open_for_sign_up

SALT = "tideover.recovery.qr"


def make_token(incident: Incident, store: Store) -> str:
    return signing.dumps({"i": incident.pk, "s": store.code}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[Incident, Store]:
    """The incident and store of a QR link, or a 4xx saying what is wrong with it."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise NotFound("This sign-up link is not valid; scan the QR code in the store again")
    incident = Incident.objects.filter(pk=data.get("i")).first()
    store = Store.objects.filter(code=data.get("s")).first()
    if incident is None or store is None:
        raise NotFound("This sign-up link is not valid any more")
    try:
        check_open_for_sign_up(incident)
    except DomainError as exc:
        raise Expired(exc.message) from None
    return incident, store


class Expired(DomainError):
    status_code = 410


def sign_up_url(incident: Incident, store: Store) -> str:
    path = reverse("recovery:self_sign_up", kwargs={"token": make_token(incident, store)})
    return settings.SITE_URL.rstrip("/") + path


def svg(url: str) -> bytes:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
