"""New ledger lines are posted with COPY on PostgreSQL (bulk_create elsewhere): every field
arrives exactly as given, whatever characters it holds, ids rise in posting order, and the
unique constraint still refuses a double post. The ledger keeps only the indexes its lookups
use."""

import os
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from payments.models import LedgerLine, PaymentRun
from payments.services import _post_lines
from tests.payments.test_incremental_runs import contract_from, periods_of

FIELDS = ("contract_id", "run_id", "period_id", "key", "kind", "rule_id", "amount", "shadow",
          "subcontractor", "participant", "explanation", "inputs", "references", "corrects_id",
          "computation")
AWKWARD = "tab\there, new\nline, return\r, back\\slash \\N \\t, £1,200 “quoted” 'single' ,;|"


def _run(world):
    contract = contract_from(world, "c3-work-programme.yaml")
    period = periods_of(contract)[0]
    return PaymentRun.objects.create(
        contract=contract, period_id=period.id, period_index=period.index,
        period_start=period.start, period_end=period.end,
        terms_version=contract.current_version())


def _line(run, n, **extra):
    values = {"contract": run.contract, "run": run, "period_id": run.period_id, "key": f"k{n}",
              "kind": "outcome", "rule_id": "r1", "amount": Decimal("400.00"), "shadow": False,
              "subcontractor": "", "participant": "", "explanation": f"Line {n}", "inputs": {},
              "references": [], "computation": 1}
    values.update(extra)
    return LedgerLine(**values)


@pytest.mark.django_db
def test_posted_lines_arrive_exactly_as_given(world_a):
    run = _run(world_a)
    [first] = _post_lines([_line(run, 0)])
    rows = [
        _line(run, 1, key=f"key {AWKWARD}", explanation=AWKWARD, participant="P7",
              subcontractor="T1-NORTH", amount=Decimal("-1234567.89"), shadow=True,
              inputs={"text": AWKWARD, "nested": {"list": [1, "2", None, True]},
                      "amount": "400.00", "none": None},
              references=["C1", AWKWARD, "I2"], corrects=first, computation=3),
        _line(run, 2, amount=Decimal("0.00"), inputs={"empty": ""}, references=[]),
        *[_line(run, n) for n in range(3, 40)],
    ]
    expected = [tuple(getattr(r, f) for f in FIELDS) for r in rows]
    posted = _post_lines(rows)
    assert posted is not None and len(posted) == len(rows)
    ids = [ln.pk for ln in posted]
    assert all(ids) and ids == sorted(ids) and ids[0] > first.pk
    stored = {ln.pk: tuple(getattr(ln, f) for f in FIELDS)
              for ln in LedgerLine.objects.filter(pk__in=ids)}
    assert [stored[pk] for pk in ids] == expected
    assert all(not ln._state.adding for ln in posted)  # saved: append-only rules apply
    assert LedgerLine.objects.get(pk=ids[0]).created_at is not None


@pytest.mark.django_db
def test_a_key_posted_twice_in_one_computation_is_refused(world_a):
    run = _run(world_a)
    _post_lines([_line(run, 1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        _post_lines([_line(run, 2), _line(run, 1)])
    assert LedgerLine.objects.filter(run=run).count() == 1


@pytest.mark.django_db
def test_the_ledger_keeps_only_the_indexes_its_lookups_use():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "payments_ledgerline")
    indexed = sorted(tuple(c["columns"]) for c in constraints.values()
                     if c["index"] or c["unique"] or c["primary_key"])
    # Lookups by contract use the (contract, ...) indexes, by run the unique constraint's.
    assert indexed == [("contract_id", "id"), ("contract_id", "key"),
                       ("contract_id", "participant"), ("corrects_id",), ("id",),
                       ("run_id", "computation", "key")]


def test_copy_columns_are_the_ledger_lines_fields_in_order():
    """run_period builds LedgerLine instances from positional values in this order (Django's
    quick path), and COPY writes the columns in it: both go wrong together if a field is added
    or moved without them."""
    from payments.services import _COPY_COLUMNS

    assert list(_COPY_COLUMNS) == [f.attname for f in LedgerLine._meta.concrete_fields]


def test_an_unsaved_line_is_the_same_as_one_built_by_django():
    values = (None, 1, 2, "P1 2013-14", "k", "outcome", "r", Decimal("1.00"), False, "", "P9",
              "why", {"a": "1"}, ["C1"], None, 1, None)
    quick, slow = LedgerLine.unsaved(values), LedgerLine(*values)
    assert [getattr(quick, f.attname) for f in LedgerLine._meta.concrete_fields] == [
        getattr(slow, f.attname) for f in LedgerLine._meta.concrete_fields]
    assert quick._state.adding and quick.pk is None


# --- what the database checks of each line (payments/ledger_checks.py, ADR 0023) ---------------


def _other_run(world, run):
    """A run of a second contract."""
    other = contract_from(world, "c2-southend.yaml")
    period = periods_of(other)[0]
    return PaymentRun.objects.create(
        contract=other, period_id=period.id, period_index=period.index,
        period_start=period.start, period_end=period.end, terms_version=other.current_version())


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["post", "save"])
def test_a_line_whose_contract_is_not_its_runs_is_refused_whole(world_a, how):
    run = _run(world_a)
    other = _other_run(world_a, run)
    rows = [_line(run, 1), _line(run, 2, contract=other.contract), _line(run, 3)]
    with pytest.raises(IntegrityError, match="run"), transaction.atomic():
        if how == "post":
            _post_lines(rows)
        else:
            for row in rows:
                row.save()
    assert not LedgerLine.objects.filter(run=run).exists()  # nothing of the statement is written


@pytest.mark.django_db
def test_a_correction_must_correct_a_line_of_its_own_contract(world_a):
    run = _run(world_a)
    other = _other_run(world_a, run)
    [mine] = _post_lines([_line(run, 1)])
    [theirs] = _post_lines([_line(other, 1, contract=other.contract)])
    [fixed] = _post_lines([_line(run, 2, corrects=mine, amount=Decimal("-400.00"))])
    assert fixed.corrects == mine and list(mine.corrections.all()) == [fixed]
    for target in (theirs.pk, theirs.pk + mine.pk + 1000):  # another contract's; none at all
        with pytest.raises(IntegrityError, match="correct"), transaction.atomic():
            _post_lines([_line(run, 3), _line(run, 4, corrects_id=target)])
    assert LedgerLine.objects.filter(run=run).count() == 2


@pytest.mark.django_db
def test_a_run_with_lines_cannot_be_deleted_in_the_database(world_a):
    run = _run(world_a)
    _post_lines([_line(run, 1)])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM payments_paymentrun WHERE id = %s", [run.pk])
        connection.check_constraints()  # the key is checked at commit; SQLite checks it here
    assert PaymentRun.objects.filter(pk=run.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("sql", ["UPDATE payments_ledgerline SET amount = 0 WHERE id = %s",
                                 "DELETE FROM payments_ledgerline WHERE id = %s"])
def test_ledger_lines_are_append_only_in_postgresql(world_a, sql):
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("the append-only trigger is PostgreSQL's (SQLite test databases are emptied "
                    "with DELETE)")
    run = _run(world_a)
    [line] = _post_lines([_line(run, 1)])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(sql, [line.pk])
    assert LedgerLine.objects.get(pk=line.pk).amount == Decimal("400.00")


@pytest.mark.django_db
def test_the_tally_table_leaves_room_for_heap_only_updates():
    """Every run rewrites the tallies it assessed; room in each page lets PostgreSQL update a
    row in place of its indexes (migration 0010)."""
    if connection.vendor != "postgresql":
        if os.environ.get("PBR_REQUIRE_POSTGRES"):
            pytest.fail("PBR_REQUIRE_POSTGRES is set but the tests are not running on PostgreSQL.")
        pytest.skip("fillfactor is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'payments_participanttally'")
        assert "fillfactor=85" in cursor.fetchone()[0]
