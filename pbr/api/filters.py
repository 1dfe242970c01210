"""Query-string filters of the API's lists, read through a serializer.

The same serializer documents the parameters in the schema (extend_schema(parameters=[...])) and
checks them, so a value the database cannot compare (a word where an id goes, a NUL character,
which PostgreSQL refuses in any string) is a 400 naming the parameter, never a server error.
"""

from rest_framework import serializers

# Ids are BigAutoField: a larger number is no object, and the database refuses to compare it.
MAX_ID = 2**63 - 1


def IdFilter(help_text):  # noqa: N802 - reads as the field class it returns
    return serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                    help_text=help_text)


def TextFilter(help_text):  # noqa: N802
    # CharField refuses NUL characters (ProhibitNullCharactersValidator) and trims spaces.
    return serializers.CharField(required=False, allow_blank=True, max_length=200,
                                 help_text=help_text)


def query_filters(request, serializer_class):
    """The filters given in the query string, checked; blank ones are left out."""
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items()
            if value not in ("", None)}
