"""E-mail subscribers are kept under their domain's canonical form (channels/email/domains.py):
NFKC, no invisible characters, IDNA 2008 with UTS #46, in ASCII.

Like 0009: addresses signed up before in another spelling of one mailbox
(``alice@exa\\u00admple.com``, ``alice@ｅxample.com``, ``alice@bücher.de`` beside
``alice@xn--bcher-kva.de``) become one subscriber, the one furthest along; the others stay as
unsubscribed rows pointing at it (``merged_into``), so the unsubscribe links in mail already
sent to them still work, and what was queued for them is cancelled. An address whose domain has
no canonical form is left as it is (a new sign-up of it is refused).
"""

from django.db import migrations
from django.utils import timezone

RANK = {"active": 0, "pending": 1, "unsubscribed": 2}


def _canonical(address: str) -> str:
    from tideover.notifications.channels.email.domains import UnusableDomain, canonical_domain

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
