"""E-mail subscribers are kept under their domain's canonical form (channels/email/domains.py):
NFKC, no invisible characters, IDNA 2008 with UTS #46, in ASCII.

Like 0009: addresses signed up before in another spelling of one mailbox
(``alice@exa\\u00admple.com``, ``alice@ｅxample.com``, ``alice@bücher.de`` beside
``alice@xn--bcher-kva.de``) become one subscriber, the one furthest along; the others stay as
unsubscribed rows pointing at it (``merged_into``), so the unsubscribe links in mail already
sent to them still work, and what was queued for them is cancelled. An address whose domain has
no canonical form is left as it is (a new sign-up of it is refused). The canonical form is
copied here, not imported, so that this migration stays as it was when app code changes.
"""

import re
import unicodedata

import idna
from django.db import migrations
from django.utils import timezone

# The canonical form as this migration made it, copied from channels/email/domains.py (now core/emails.py,
# with
# plain ASCII labels kept as they are): importing it from app code would let a later change to
# that function, or its move, change or break this historical migration.

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

# A label the mail layer sends as it is: ASCII letters, digits and inner hyphens, 1-63 long.
_LDH = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# The full stops UTS #46 splits labels on (NFKC has already mapped U+FF0E).
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


class UnusableDomain(ValueError):
    pass


def canonical_domain(domain: str) -> str:
    """``domain`` in ASCII; UnusableDomain if it has no canonical form."""
    if domain.startswith("["):
        raise UnusableDomain("an IP address instead of a domain name")
    text = _IGNORABLE.sub("", unicodedata.normalize("NFKC", domain))
    text = text[:-1] if text.endswith(".") else text
    try:
        ascii_form = ".".join(_canonical_label(label) for label in _DOTS.split(text))
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnusableDomain(str(exc)) from exc
    if len(ascii_form) > 253:
        raise UnusableDomain("a domain longer than 253 characters")
    return ascii_form


def _canonical_label(label: str) -> str:
    lower = label.lower() if label.isascii() else label
    if _LDH.match(lower) and not lower.startswith("xn--"):
        return lower
    if lower.startswith("xn--"):
        # A punycode label typed as such must decode, and come back the same way.
        if idna.encode(idna.decode(lower)).decode("ascii") != lower:
            raise UnusableDomain("a punycode label that is not the name's own spelling")
        return lower
    ascii_form = idna.encode(label, uts46=True, transitional=False).decode("ascii").lower()
    if idna.encode(idna.decode(ascii_form)).decode("ascii") != ascii_form:
        raise UnusableDomain("a punycode label that is not the name's own spelling")
    return ascii_form


RANK = {"active": 0, "pending": 1, "unsubscribed": 2}


def _canonical(address: str) -> str:
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{canonical_domain(domain)}".lower() if local else address
    except UnusableDomain:
        return address


def canonical_email_domains(apps, schema_editor):
    Subscriber = apps.get_model("notifications", "Subscriber")
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    spellings = {}
    rows = Subscriber.objects.filter(channel="email", merged_into=None).order_by("pk")
    for pk, address, state in rows.values_list("pk", "address", "state"):
        spellings.setdefault(_canonical(address), []).append((RANK.get(state, 3), pk, address))
    for canonical, found in spellings.items():
        found.sort()
        (_, keep, address), rest = found[0], [pk for _, pk, _ in found[1:]]
        for pk in rest:
            Subscriber.objects.filter(pk=pk).update(
                address=f"{canonical} (merged into #{keep}, was #{pk})"[:500],
                state="unsubscribed",
                unsubscribed_at=timezone.now(),
                merged_into_id=keep,
            )
            # Spellings 0009 merged into the row now merged follow it to the one kept.
            Subscriber.objects.filter(merged_into_id=pk).update(merged_into_id=keep)
        if rest:
            OutboxMessage.objects.filter(subscriber_id__in=rest, state="queued").update(
                state="cancelled", last_error="another spelling of a subscribed mailbox"
            )
        if address != canonical:
            Subscriber.objects.filter(pk=keep).update(address=canonical)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0010_tally_category")]

    operations = [migrations.RunPython(canonical_email_domains, migrations.RunPython.noop)]
