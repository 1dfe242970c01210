"""`field__anyof=[...]`: membership in a long list of plain values, as one parameter.

Django's `__in` prepares and binds every value separately, which costs more than the query
itself when a payment run asks for the rows of a few thousand participants or keys at a time.
On PostgreSQL `anyof` passes the list as one array (`field = ANY(%s)`); elsewhere it is an
`IN` list of the values as given. The values are used as they are: ints for integer columns,
strings for text ones.
"""

from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "anyof"
    prepare_rhs = False  # the list is passed as it is, not value by value

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


class Many:
    """Values for `anyof`, which Django hands to the lookup as they are. A list or tuple it
    would first walk item by item, looking for expressions to resolve: a few microseconds a
    value, a third of a second for a national run's participants (docs/performance.md)."""

    __slots__ = ("values",)

    def __init__(self, values):
        self.values = list(values)

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def __repr__(self):
        return f"Many({self.values!r})"


def chunks(items, size=20000):
    """`items` in parts of at most `size` (as Many, for `anyof`): SQLite allows only so many
    parameters in a query, so a long list is asked for in parts."""
    items = list(items)
    for i in range(0, len(items), size):
        yield Many(items[i:i + size])


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # participant_id__anyof: a foreign key's own column
