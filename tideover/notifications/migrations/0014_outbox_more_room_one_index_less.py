"""On PostgreSQL the outbox keeps half of each page free, so a message's 'sending' and 'sent'
find room next to the version its claim wrote (heap-only updates, no index touched), and its
dedupe key keeps one unique index without the pattern index Django adds to a unique text
column (every query by a key's prefix also names an incident or an id range, which are
indexed). bench/outbox_page_room.py measures both."""

from django.db import migrations, models


def half_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE notifications_outboxmessage SET (fillfactor = 50)")


def pages_as_before(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE notifications_outboxmessage SET (fillfactor = 80)")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0013_outbox_marks_touch_no_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxmessage",
            name="dedupe_key",
            field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_key"),
        ),
        migrations.RunPython(half_pages, pages_as_before),
    ]
