"""Migration 0005 adds the report indexes without blocking writes on PostgreSQL: there it
builds them CONCURRENTLY (outside a transaction); SQLite gets the same indexes plainly."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.state import ProjectState

M0005 = importlib.import_module("tideover.detect.migrations.0005_report_indexes")


def _sql_of_0005():
    before = ProjectState.from_apps(apps)
    for op in M0005.Migration.operations:
        before.remove_index("detect", "signalreport", op.index.name)
    statements = []
    state = before
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for op in M0005.Migration.operations:
            after = state.clone()
            op.state_forwards("detect", after)
            op.database_forwards("detect", editor, state, after)
            state = after
    statements = editor.collected_sql
    return statements


@pytest.mark.django_db(transaction=True)
def test_report_indexes_are_built_without_blocking_writes_on_postgresql():
    assert M0005.Migration.atomic is False
    sql = [s for s in _sql_of_0005() if "CREATE INDEX" in s]
    assert len(sql) == 2
    assert any("detect_report_signal_at" in s for s in sql)
    assert any("detect_report_at" in s for s in sql)
    if connection.vendor == "postgresql":
        assert all("CREATE INDEX CONCURRENTLY" in s for s in sql), sql
    else:
        assert not any("CONCURRENTLY" in s for s in sql), sql


@pytest.mark.django_db
def test_both_report_indexes_exist_after_migrating():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "detect_signalreport")
    assert constraints["detect_report_signal_at"]["columns"] == ["signal_id", "at"]
    assert constraints["detect_report_at"]["columns"] == ["at"]
