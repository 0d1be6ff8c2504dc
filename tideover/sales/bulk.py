"""Multi-row INSERTs for the posting hot path (SQLite and PostgreSQL).

Django's ``bulk_create`` spends most of its time building SQL per object; at the design peak
(2,000 sales/s, six rows each) that is the bottleneck, so the hot tables are written here from
plain tuples. Values go through each field's ``get_db_prep_save`` only for the types that need
it (datetimes, JSON), so what lands in the table is exactly what the ORM would write.
"""

from __future__ import annotations

from datetime import UTC

from django.db import connection, models

# SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535.
MAX_PARAMS = 30_000

_CONVERTED = (models.DateTimeField, models.DateField, models.JSONField, models.DecimalField)


def _sqlite_datetime(value):
    # What Django's SQLite backend stores for an aware datetime: naive UTC text (text read
    # back from the table is already that).
    if value is None or type(value) is str:
        return value
    if value.utcoffset() is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


def _converters(model, fields: list[str]):
    result = []
    for name in fields:
        field = model._meta.get_field(name)
        if type(field) is models.DateTimeField:
            # The hot path: aware datetimes, adapted without the ORM's per-value call chain.
            result.append(
                _once_per_value(_sqlite_datetime) if connection.vendor == "sqlite" else None
            )
        elif isinstance(field, models.JSONField):
            # Most sales carry no codes: adapt the empty list once, not per row.
            empty = field.get_db_prep_save([], connection)
            result.append(
                lambda value, f=field, e=empty: (
                    e if value == [] else f.get_db_prep_save(value, connection)
                )
            )
        elif isinstance(field, _CONVERTED):
            result.append(lambda value, f=field: f.get_db_prep_save(value, connection))
        else:
            result.append(None)
    return result


def _once_per_value(convert):
    """``convert`` remembering its results (for datetimes: hashable, equal only when the same
    instant, so equal values convert alike)."""
    done: dict = {}

    def run(value):
        try:
            return done[value]
        except KeyError:
            done[value] = result = convert(value)
            return result

    return run


def _convert(row: tuple, converted) -> list:
    row = list(row)
    for i, convert in converted:
        row[i] = convert(row[i])
    return row


def insert_rows(
    model, fields: list[str], rows: list[tuple], *, returning: bool = False, adapted: bool = False
):
    """Insert ``rows`` (tuples in ``fields`` order); with ``returning``, the new ids in order.

    ``adapted``: the values are already what the database takes (datetimes through
    ``connection.ops.adapt_datetimefield_value``), so no pass over the rows converts them."""
    if not rows:
        return [] if returning else None
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    converters = [] if adapted else _converters(model, fields)
    converted = [(i, c) for i, c in enumerate(converters) if c is not None]
    if converted:
        # Only the columns that need it, each distinct value once: a bulk write's datetimes
        # are mostly one "now" and a few deadlines, repeated on every row.
        rows = [_convert(row, converted) for row in rows]
    if connection.vendor == "postgresql":
        return _copy(model, table, columns, rows, returning)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, MAX_PARAMS // len(fields))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608
            params = [value for row in chunk for value in row]
            if returning:
                # Both databases return the rows in VALUES order (Django's bulk_create relies on it too).
                cursor.execute(sql + " RETURNING id", params)
                ids.extend(row[0] for row in cursor.fetchall())
            else:
                cursor.execute(sql, params)
    return ids if returning else None


def _copy(model, table: str, columns: str, rows: list[tuple], returning: bool):
    """PostgreSQL: COPY, its bulk path (no SQL text to build or parse per row). New ids are
    drawn from the table's sequence first, so the caller still learns them."""
    with connection.cursor() as cursor:
        ids: list[int] = []
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, len(rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
            columns = f"id, {columns}"
        # The raw cursor bypasses Django's error translation: keep IntegrityError an
        # IntegrityError, so a concurrent duplicate is classified like any other.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    return ids if returning else None


def rows_where_in(model, key: str, keys, fields: list[str]) -> list[tuple]:
    """``fields`` of the rows whose ``key`` is one of ``keys``. On PostgreSQL the keys go as
    one array parameter (``= ANY``), which spares parsing a statement with hundreds of
    placeholders on every batch."""
    keys = list(keys)
    if not keys:
        return []
    if connection.vendor != "postgresql":
        return list(model.objects.filter(**{f"{key}__in": keys}).values_list(*fields))
    meta = model._meta
    columns = ", ".join(connection.ops.quote_name(meta.get_field(f).column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
            f"WHERE {connection.ops.quote_name(meta.get_field(key).column)} = ANY(%s)",
            [keys],
        )
        return cursor.fetchall()
