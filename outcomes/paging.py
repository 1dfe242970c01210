"""Page sources for django.core.paginator.Paginator over lists of claims too long to sort whole
on every request (docs/performance.md, "Dashboards": the provider's claim list and the auditor's
queue at national scale).

Each is what a Paginator takes as its object list: `count()`, and a slice returning the page's
claims, in order. `pbr.views.paginate` and the pagination partial work with them unchanged.
"""

from django.db.models import Case, Count, IntegerField, Value, When, Window


def _in_order(rows, ids):
    """The rows of `rows` (a queryset) with these ids, in the order of `ids`."""
    found = rows.order_by().in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


class NarrowSort:
    """Sort and count on ids only, then read whole rows (with their joins) for one page.

    PostgreSQL joins every candidate row to all the tables a page shows before it sorts them:
    thousands of participant and review look-ups to keep 25. Here the sort reads only what it
    orders by, and the page's rows are read by id afterwards.

    Given the page the request asks for (`page`, `per_page`), the count comes with that page's
    ids from one query (`COUNT(*) OVER ()`: the sort has to see every candidate anyway), so a
    page costs two queries, not three; a page past the end falls back to counting alone.
    """

    ordered = True

    def __init__(self, ordered_claims, rows, *, page=None, per_page=None):
        self._ordered = ordered_claims
        self._ids = ordered_claims.values_list("pk", flat=True)
        self._rows = rows
        self._count = None
        self._read = {}  # (start, stop) -> ids already read with the count
        self._asked = None
        if per_page:  # no page, or not a page number: the first, as Paginator.get_page reads it
            number = int(page) if str(page).isdigit() and int(page) > 0 else 1
            self._asked = ((number - 1) * per_page, number * per_page)

    def count(self):
        if self._count is None and self._asked is not None:
            start, stop = self._asked
            found = list(self._ordered.annotate(total=Window(Count("pk")))
                         .values_list("pk", "total")[start:stop])
            if found:
                self._count = found[0][1]
                self._read[(start, min(stop, self._count))] = [pk for pk, _total in found]
        if self._count is None:
            self._count = self._ids.order_by().count()
        return self._count

    def __len__(self):
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("A page of claims is read as a slice.")
        ids = self._read.get((index.start or 0, index.stop))
        if ids is None:
            ids = list(self._ids[index])
        return _in_order(self._rows, ids)


class ClaimsByReturn:
    """Claims in the claim list's order: newest period first, then contract reference, then
    return, row in its file and id, read a page at a time through the index on
    (return_record_id, row_number, id) (`claim_return_row_idx`) rather than by sorting every
    matching claim.

    `count()` is one grouped query: how many claims match in each return, in the list's order
    of returns. A slice then knows which returns it covers and where in them it starts: within
    one return the index gives the rows in order and the database stops after the page; a page
    that spans returns sorts only those returns' matching claims. One query for the page's ids
    and one for its rows, whatever the page.
    """

    ordered = True

    def __init__(self, claims, rows):
        self._claims = claims.order_by()
        self._rows = rows
        self._returns = None

    def returns(self):
        """[(return id, matching claims)] in the list's order of returns."""
        if self._returns is None:
            self._returns = [
                (row["return_record_id"], row["n"]) for row in
                self._claims.values("return_record_id", "return_record__period_start",
                                    "return_record__contract__reference")
                .annotate(n=Count("pk"))
                .order_by("-return_record__period_start", "return_record__contract__reference",
                          "return_record_id")]
        return self._returns

    def count(self):
        return sum(n for _pk, n in self.returns())

    def __len__(self):
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("A page of claims is read as a slice.")
        start, stop = index.start or 0, index.stop if index.stop is not None else self.count()
        covered, first_offset, before = [], 0, 0
        for pk, n in self.returns():
            if before + n > start and before < stop:
                if not covered:
                    first_offset = start - before
                covered.append(pk)
            before += n
            if before >= stop:
                break
        if not covered or stop <= start:
            return []
        size = stop - start
        if len(covered) == 1:
            ids = self._claims.filter(return_record_id=covered[0]).order_by("row_number", "pk")
        else:
            position = Case(*[When(return_record_id=pk, then=Value(i))
                              for i, pk in enumerate(covered)], output_field=IntegerField())
            ids = self._claims.filter(return_record_id__in=covered).order_by(
                position, "row_number", "pk")
        ids = list(ids.values_list("pk", flat=True)[first_offset:first_offset + size])
        return _in_order(self._rows, ids)
