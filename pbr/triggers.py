"""Installing database triggers that Django's migrations do not manage (ADRs 0021, 0023).

They are (re)installed after every `migrate`: SQLite drops a table's triggers whenever a
migration rebuilds the table."""

from django.db import transaction


def install(connection, tables, statements):
    """Run `statements(connection, tables present)` (the SQL for this database, or None where
    there is none) in one transaction, once every table in `tables` exists. The SQL must be
    idempotent. Returns whether anything was run."""
    present = set(connection.introspection.table_names())
    if not set(tables) <= present:
        return False
    sql = statements(connection, present)
    if sql is None:
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
    return True
