"""Schemathesis fuzzes every operation of the API's own schema (/api/schema/), in-process through
the Django WSGI application, as part of the ordinary test suite (ADR 0018).

Each generated request is sent three times, with the organisation token of a commissioner, a
provider manager and an auditor, against a realistic dataset (tests/api/world.py); every send runs
in its own savepoint that is rolled back, so what one example writes never reaches the next.
Path parameters and the fields that name other objects are steered towards real objects most of
the time, so the fuzz gets past "not found" into the code that does the work.

Bounded: PBR_FUZZ_EXAMPLES (default below) generated examples per operation on top of the schema
examples and the coverage phase's cases, with a fixed seed (PBR_FUZZ_SEED) so a CI run explores
the same inputs every time; set either to explore further. How to run it alone, and how long it
takes: CONTRIBUTING.md, "Fuzzing the API".
"""

import collections
import copy
import os
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    status_code_conformance,
)

from pbr.wsgi import application
from tests.api.world import ROLES, USERNAMES, build_world

FUZZ_EXAMPLES = int(os.environ.get("PBR_FUZZ_EXAMPLES", "8"))
FUZZ_SEED = int(os.environ.get("PBR_FUZZ_SEED", "20261124"))

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, config=schemathesis.Config(seed=FUZZ_SEED))

# Every other check schemathesis has runs: not_a_server_error, response_schema_conformance,
# content_type_conformance, response_headers_conformance, ignored_auth, missing_required_header,
# unsupported_method. These three are left out, each for a reason that is not a defect:
EXCLUDED_CHECKS = [
    # Schema-valid input is refused by the rules the schema cannot express (a period the contract
    # does not have: 400; a claim in the wrong state: 409), and every request is deliberately
    # sent with three roles, two of which are usually refused (403). "Valid data is accepted"
    # cannot hold for this API.
    positive_data_acceptance,
    # Unknown query parameters are ignored, as by most HTTP APIs; and the fuzz adds a real token
    # to requests that schemathesis generated without one, and steers fields towards real
    # objects, so a case it generated as invalid may arrive valid. Invalid input that matters is
    # still sent, and must get a 4xx: a 5xx fails not_a_server_error.
    negative_data_rejection,
    # drf-spectacular documents the success response of each operation, not every refusal
    # (401, 403, 404, 405, 409, 415): each of those answers with {"detail": "..."}.
    status_code_conformance,
]

# What the fuzz saw: operation label -> who sent it -> status code -> count. "anonymous" is a
# request sent without our token (schemathesis' own authentication cases).
RESPONSES = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
EXAMPLES = collections.Counter()
WORLD = {}
# Answers that mean a request never reached the operation's own code.
REFUSED = {401, 403, 404, 405, 415}


# --- the dataset ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The dataset, built once for this module inside a transaction that is rolled back at the
    end. Django closes the database connection at the end of every request it serves; the test
    client stops that for its own requests, and so must we, or the first request would end the
    transaction that holds the dataset."""
    from django.conf import settings as django_settings

    evidence_root = tmp_path_factory.mktemp("fuzz-evidence")
    storages = copy.deepcopy(django_settings.STORAGES)
    storages["evidence"]["OPTIONS"]["location"] = str(evidence_root)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), \
                override_settings(EVIDENCE_ROOT=evidence_root, STORAGES=storages):
            atomic = transaction.atomic()
            atomic.__enter__()
            try:
                world = build_world()
                WORLD["world"] = world
                yield world
            finally:
                WORLD.clear()
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# --- steering generated values towards real objects ----------------------------------------------

# Body and query fields that name another object, and the list of real values for each.
REFERENCE_FIELDS = {
    "contract": "contract", "reference": "contract", "period": "period",
    "period_id": "period", "period_from": "period", "period_to": "period",
    "recovery_period": "period", "assignee": "username", "provider": "provider",
    "return": "return_pk", "dataset": "dataset", "outcome": "outcome",
    "participant_ref": "participant_ref",
}
LIST_REFERENCE_FIELDS = {"evidence": "evidence", "claims": "claim_pk"}


def _real(kind):
    values = WORLD["world"].references.get(kind) or WORLD["world"].ids.get(kind)
    return st.sampled_from(values)


def _steered(value, fields):
    """A strategy for `value` (a dict) with some of its reference fields replaced by real ones."""
    if not isinstance(value, dict) or not WORLD:
        return st.just(value)
    choices = {}
    for name in value:
        if name in fields:
            choices[name] = st.one_of(st.just(value[name]), _real(fields[name]))
        elif name in LIST_REFERENCE_FIELDS:
            real = st.lists(_real(LIST_REFERENCE_FIELDS[name]), min_size=1, max_size=3)
            choices[name] = st.one_of(st.just(value[name]), real)
    if not choices:
        return st.just(value)
    return st.fixed_dictionaries(choices).map(lambda chosen: {**value, **chosen})


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Most paths name a real object (of any organisation: another's must answer 404)."""
    if not WORLD or not path_parameters:
        return st.just(path_parameters)
    real = {name: _real(name) for name in path_parameters if name in WORLD["world"].ids}
    if not real:
        return st.just(path_parameters)
    steered = st.fixed_dictionaries(real).map(lambda chosen: {**path_parameters, **chosen})
    return st.sampled_from([True, True, True, False]).flatmap(
        lambda use_real: steered if use_real else st.just(path_parameters))


@schema.hook
def flatmap_query(context, query):
    return _steered(query, REFERENCE_FIELDS)


@schema.hook
def flatmap_body(context, body):
    if isinstance(body, dict) and isinstance(body.get("rows"), list) and WORLD:
        # Rows with the returns format's own column names, so the validator gets past "unknown
        # column" into checking the values.
        rows = st.lists(st.dictionaries(
            st.sampled_from(WORLD["world"].references["columns"]),
            st.one_of(st.text(max_size=12), st.sampled_from(
                WORLD["world"].references["cells"])), max_size=8), min_size=1, max_size=3)
        return st.one_of(_steered(body, REFERENCE_FIELDS),
                         rows.map(lambda new_rows: {**body, "rows": new_rows}))
    return _steered(body, REFERENCE_FIELDS)


# --- the fuzz -----------------------------------------------------------------------------------


def _sender(case, response, role):
    """Who the response answered, for the record: the role whose token went with it, or
    "anonymous" (schemathesis' own authentication cases), or "other method" (a method the
    operation does not have, from the coverage phase)."""
    if response.request.method != case.operation.method.upper():
        return "other method"
    token = response.request.headers.get("Authorization") or ""
    return role if token.startswith("Token ") else "anonymous"


def _point_at_real_objects(case):
    """The coverage phase's cases are made when the module is collected, before the dataset
    exists, so their path ids name nothing. Unless the case is about the path itself, point it at
    a real object (taking each in turn), so its body and query variations reach the code."""
    if case.meta is None or case.meta.phase.name != "coverage" or not case.path_parameters:
        return
    data = case.meta.phase.data
    if data.parameter_location == "path" or "path" in str(data.scenario.value):
        return
    for name in case.path_parameters:
        ids = WORLD["world"].ids.get(name)
        if ids:
            case.path_parameters[name] = ids[EXAMPLES[case.operation.label] % len(ids)]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES,
          # The dataset is module-scoped and every request is rolled back by hand (above), so the
          # function-scoped database fixture pytest-django adds is not shared state between
          # examples. Timing checks judge the machine, not the code (tests/conftest.py).
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_operation_survives_fuzzing(case, fuzz_world):
    label = case.operation.label
    EXAMPLES[label] += 1
    _point_at_real_objects(case)
    for role in ROLES:
        headers = {"Authorization": f"Token {fuzz_world.keys[role]}"}
        with transaction.atomic():
            try:
                response = case.call(headers=headers)
                RESPONSES[label][_sender(case, response, role)][response.status_code] += 1
                case.validate_response(response, headers=headers,
                                       transport_kwargs={"headers": headers},
                                       excluded_checks=EXCLUDED_CHECKS)
            except FailureGroup as exc:
                exc.add_note(f"Sent with the {role}'s token ({USERNAMES[role]}).")
                raise
            finally:
                transaction.set_rollback(True)


# --- nothing escapes the fuzz -------------------------------------------------------------------


def _schema_operations():
    return {result.ok().label for result in schema.get_all_operations()}


def _api_routes(resolver=None, prefix=""):
    """Every URL pattern the project serves under /api/v1/, as the schema writes paths."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_api_route_is_in_the_schema():
    """A view routed under /api/v1/ but left out of the schema would never be fuzzed."""
    documented = {label.split(" ", 1)[1] for label in _schema_operations()}
    assert set(_api_routes()) == documented


def test_every_operation_in_the_schema_was_fuzzed_past_authorisation(request):
    """Runs after the fuzz (pytest keeps a module's order): every operation of the schema got
    generated examples, and for each some role's request was neither refused (401, 403) nor
    missed (404, 405, 415), so the fuzz reached the code behind it."""
    operations = _schema_operations()
    fuzzed = [item for item in request.session.items
              if getattr(item, "originalname", "") == "test_every_operation_survives_fuzzing"]
    if len(fuzzed) < len(operations):
        pytest.skip("The fuzz was not selected in this run (-k or a node id); run the module.")
    assert len(operations) > 50
    assert set(EXAMPLES) == operations, f"Not fuzzed: {sorted(operations - set(EXAMPLES))}"
    shallow = sorted(label for label in operations
                     if not any(set(RESPONSES[label][role]) - REFUSED for role in ROLES))
    assert not shallow, f"Every request was refused or not found: {shallow}"
    total = sum(EXAMPLES.values())
    sent = sum(sum(c.values()) for by_role in RESPONSES.values() for c in by_role.values())
    print(f"\nFuzzed {len(operations)} operations: {total} examples, {sent} requests.")
