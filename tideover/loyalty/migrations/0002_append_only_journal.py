"""The database itself refuses to change or delete journal rows (belt and braces over the
model API). PostgreSQL: UPDATE and DELETE raise (TRUNCATE, used only to empty test databases,
does not fire row triggers). SQLite: UPDATE raises; DELETE is left to the model API because
Django empties SQLite test databases with DELETE."""

from django.db import migrations

TABLES = ("loyalty_journalentry", "loyalty_journalline")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the loyalty journal is append-only: post a correcting entry instead';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION loyalty_journal_append_only()"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'the loyalty journal is append-only'); END"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_journal_append_only()")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
