"""E-mail subscribers are kept under their lower-case address (channels/email clean_email).

Addresses signed up before in other spellings are lowered. Where two spellings of one mailbox
were both signed up, the one that is further along (active, then pending, then unsubscribed;
the first signed up among equals) is kept with its subscriptions. The others are kept too, as
unsubscribed rows pointing at it (``merged_into``), so the unsubscribe links in mail already
sent to them still stop the mailbox's messages; what was still queued for them is cancelled.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

RANK = {"active": 0, "pending": 1, "unsubscribed": 2}


def lower_email_addresses(apps, schema_editor):
    Subscriber = apps.get_model("notifications", "Subscriber")
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    spellings = {}
    rows = Subscriber.objects.filter(channel="email").order_by("pk")
    for pk, address, state in rows.values_list("pk", "address", "state"):
        spellings.setdefault(address.lower(), []).append((RANK.get(state, 3), pk, address))
    for lower, found in spellings.items():
        found.sort()
        (_, keep, address), rest = found[0], [pk for _, pk, _ in found[1:]]
        for pk in rest:
            Subscriber.objects.filter(pk=pk).update(
                address=f"{lower} (merged into #{keep}, was #{pk})"[:500],
                state="unsubscribed",
                unsubscribed_at=timezone.now(),
                merged_into_id=keep,
            )
        if rest:
            OutboxMessage.objects.filter(subscriber_id__in=rest, state="queued").update(
                state="cancelled", last_error="another spelling of a subscribed mailbox"
            )
        if address != lower:
            Subscriber.objects.filter(pk=keep).update(address=lower)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0008_outbox_indexes_by_key")]

    operations = [
        migrations.AddField(
            model_name="subscriber",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="notifications.subscriber",
            ),
        ),
        migrations.RunPython(lower_email_addresses, migrations.RunPython.noop),
    ]
