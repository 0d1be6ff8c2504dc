"""The marks of delivery change no indexed column (models.OutboxMessage.Meta): a message leaves
the queue's index when claimed, rows held by workers are found through OutboxClaim, and on
PostgreSQL the outbox keeps room on each page for the marks' new row versions."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F

HELD = ("claimed", "sending")


def empty_due_time_when_not_queued(apps, schema_editor):
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    OutboxMessage.objects.exclude(state="queued").exclude(next_attempt_at=None).update(
        next_attempt_at=None
    )


def due_time_back(apps, schema_editor):
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    OutboxMessage.objects.filter(next_attempt_at=None).update(next_attempt_at=F("created_at"))


def claims_for_held_rows(apps, schema_editor):
    """Rows a worker holds while this runs keep being recoverable if that worker dies."""
    OutboxMessage = apps.get_model("notifications", "OutboxMessage")
    OutboxClaim = apps.get_model("notifications", "OutboxClaim")
    held: dict[str, list[int]] = {}
    for pk, token in OutboxMessage.objects.filter(state__in=HELD).values_list("pk", "claim_token"):
        held.setdefault(token, []).append(pk)
    OutboxClaim.objects.bulk_create(
        [OutboxClaim(token=token or "migrated", message_ids=ids) for token, ids in held.items()]
    )


def room_for_marks(apps, schema_editor):
    """PostgreSQL: fill pages to 80%, so that a mark's new row version fits on its page (HOT)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE notifications_outboxmessage SET (fillfactor = 80)")


def full_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE notifications_outboxmessage RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0012_sms_stopped_by_reply"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboxClaim",
            fields=[
                ("token", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("message_ids", models.JSONField()),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.RemoveIndex(
            model_name="outboxmessage",
            name="outbox_due",
        ),
        migrations.RemoveIndex(
            model_name="outboxmessage",
            name="outbox_leased",
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.RunPython(empty_due_time_when_not_queued, due_time_back),
        migrations.RunPython(claims_for_held_rows, migrations.RunPython.noop),
        migrations.RunPython(room_for_marks, full_pages),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(
                condition=models.Q(("next_attempt_at__isnull", False)),
                fields=["next_attempt_at", "id"],
                name="outbox_due",
            ),
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "queued"), _negated=True),
                    ("next_attempt_at__isnull", False),
                    _connector="OR",
                ),
                name="outbox_queued_has_due_time",
            ),
        ),
    ]
