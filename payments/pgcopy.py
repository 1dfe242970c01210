"""Writing many rows with PostgreSQL's COPY (text format), for the runs' bulk writes."""

import io


def text(value):
    """A text value as a field of COPY's text format: backslash, tab, newline and carriage
    return escaped. (Four replace() calls: str.translate with a mapping looks each character
    up in turn, ten times slower on the explanations' "£".)"""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def copy_in(cursor, table, columns, lines):
    """COPY `lines` (each a whole row: fields joined by tabs, ending in a newline) into
    `table`; `cursor` is Django's, so a database error is raised as Django's."""
    stream = io.StringIO("".join(lines))
    quoted = ", ".join(f'"{name}"' for name in columns)
    with cursor.db.wrap_database_errors:
        cursor.cursor.copy_expert(f"COPY {table} ({quoted}) FROM STDIN", stream)
