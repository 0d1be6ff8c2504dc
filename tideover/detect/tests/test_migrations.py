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


def _run_0005_forwards():
    before = ProjectState.from_apps(apps)
    for op in M0005.Migration.operations:
        before.remove_index("detect", "signalreport", op.index.name)
    state = before
    with connection.schema_editor(atomic=False) as editor:
        for op in M0005.Migration.operations:
            after = state.clone()
            op.state_forwards("detect", after)
            op.database_forwards("detect", editor, state, after)
            state = after


def _report_indexes():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "detect_signalreport")
    return {
        name: constraints[name]["columns"]
        for name in constraints
        if name.startswith("detect_report_")
    }


def _invalid_report_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE 'detect_report_%%' AND NOT i.indisvalid"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("left", ["first_built", "both_built", "second_invalid"])
def test_0005_completes_when_run_again_after_a_half_done_run(left):
    # A non-atomic migration rolls nothing back: a run that failed or was stopped midway left
    # the first index built, or an INVALID one from a failed CONCURRENTLY build, and running
    # migrate again failed with "relation already exists".
    if left == "second_invalid" and connection.vendor != "postgresql":
        pytest.skip("INVALID indexes are PostgreSQL's")
    with connection.cursor() as cursor:
        if left == "first_built":
            cursor.execute("DROP INDEX detect_report_at")
        if left == "second_invalid":
            cursor.execute(
                "UPDATE pg_index SET indisvalid = false"
                " WHERE indexrelid = 'detect_report_at'::regclass"
            )
            assert _invalid_report_indexes() == ["detect_report_at"]
    _run_0005_forwards()
    assert _report_indexes() == {
        "detect_report_signal_at": ["signal_id", "at"],
        "detect_report_at": ["at"],
    }
    if connection.vendor == "postgresql":
        assert _invalid_report_indexes() == []
