"""E-mail subscribers are kept under their lower-case address (channels/email clean_email).

Addresses signed up before in other spellings are lowered; where two spellings of one mailbox
were both signed up, the one that is further along (active, then pending, then unsubscribed;
the first signed up among equals) is kept with its subscriptions and the others are removed,
so the mailbox gets each update once. Their sent messages stay in the delivery log."""

from django.db import migrations

RANK = {"active": 0, "pending": 1, "unsubscribed": 2}


def lower_email_addresses(apps, schema_editor):
    Subscriber = apps.get_model("notifications", "Subscriber")
    spellings = {}
    for pk, address, state in (
        Subscriber.objects.filter(channel="email").order_by("pk").values_list("pk", "address", "state")
    ):
        spellings.setdefault(address.lower(), []).append((RANK.get(state, 3), pk, address))
    for lower, found in spellings.items():
        found.sort()
        (_, keep, address), rest = found[0], found[1:]
        if rest:
            Subscriber.objects.filter(pk__in=[pk for _, pk, _ in rest]).delete()
        if address != lower:
            Subscriber.objects.filter(pk=keep).update(address=lower)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0008_outbox_indexes_by_key")]

    operations = [migrations.RunPython(lower_email_addresses, migrations.RunPython.noop)]
