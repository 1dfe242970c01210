"""A realistic dataset for fuzzing the API: the demo organisations, people and contracts, with
objects in every state the API has an operation for, and an organisation token for each role.

Built through the services (the same code paths the web pages and the API use), so the objects
are what a real deployment would hold.
"""

from dataclasses import dataclass, field

# The roles whose tokens the fuzz sends. Each is a role that has API work to do: a commissioner
# (contracts, payments, appeals, the verification policy, datasets), a provider manager (returns,
# evidence, appeals) and an auditor (verification, samples).
ROLES = ("commissioner", "provider", "auditor")
USERNAMES = {"commissioner": "commissioner", "provider": "provider-manager", "auditor": "auditor"}


@dataclass
class FuzzWorld:
    keys: dict  # role -> token key (sent as "Authorization: Token <key>")
    # path parameter name -> ids of real objects for it (every role's, so the fuzz also asks for
    # objects outside a role's scope and must get 404, never a 500)
    ids: dict = field(default_factory=dict)
    # values that request bodies and query strings refer to (contract references, usernames,
    # period labels, evidence ids) so that generated bodies sometimes name real objects
    references: dict = field(default_factory=dict)


def _claim_rows(count, *, prefix, outcome="attachment", achieved="2012-06-15", evidence=None):
    rows = []
    for n in range(count):
        row = {"participant_ref": f"{prefix}-{n + 1}", "ni_number": f"AB{n + 100000:06d}C",
               "date_of_birth": "1990-05-01", "segment": "JSA_18_24",
               "start_date": "2012-06-01", "outcome": outcome, "achieved": achieved}
        if evidence is not None:
            row["evidence"] = f"E{evidence.pk}"
        rows.append((n + 2, row))
    return rows


def build_world():
    """Create the dataset in the current database and return a FuzzWorld describing it."""
    from contracts.models import Contract
    from outcomes import external
    from outcomes import services as returns
    from outcomes.models import ADVERSE_EVENT, Claim, EvidenceFile, Return
    from outcomes.validation import CLAIM_COLUMNS, EVENT_COLUMNS, INDICATOR_COLUMNS
    from outcomes.verification import services as verification
    from outcomes.verification.models import Sample, SampleItem
    from payments.models import PaymentRun
    from payments.services import run_period
    from pbr.demo import seed_contracts, seed_people
    from pbr.models import AuditEvent, Job, JobStatus, Organisation, User
    from pbr.services import issue_api_token
    from tests.outcomes.test_events import sib_document
    from tests.outcomes.test_external import cohort_document
    from tests.verification.conftest import evidence_file

    orgs, users = seed_people()
    seed_contracts(orgs, users)
    people = {u.username: u for u in users}
    commissioner = people["commissioner"]
    manager = people["provider-manager"]
    auditor = people["auditor"]
    provider = orgs["pathway-housing"]

    keys = {}
    for role, username in USERNAMES.items():
        user = people[username]
        _token, keys[role] = issue_api_token(actor=user, organisation=user.organisation,
                                             name=f"Fuzz {role}")

    # Returns on C3: one submitted (its claims go to verification), three still drafts (most
    # return actions need a draft), one of them empty.
    c3 = Contract.objects.get(reference="C3-WORK-PROGRAMME")
    verification.save_policy(c3, actor=commissioner, values={"mode": "verify_all"})
    proof = evidence_file(provider, "payslip.pdf")
    spare = evidence_file(provider, "letter.png")
    submitted = returns.start_return(c3, "Jun 2012", actor=manager)
    returns.add_rows(submitted, _claim_rows(8, prefix="JUN", evidence=proof), actor=manager,
                     source="api")
    returns.submit_return(submitted, actor=manager)
    for period, prefix, achieved in (("Jul 2012", "JUL", "2012-07-10"),
                                     ("Aug 2012", "AUG", "2012-08-10"), ("Sep 2012", "SEP", None)):
        draft = returns.start_return(c3, period, actor=manager)
        if achieved:
            returns.add_rows(draft, _claim_rows(2, prefix=prefix, achieved=achieved),
                             actor=manager, source="api")

    # Verification: a selection sample, then one claim in each state an action starts from.
    verification.draw_sample(c3, actor=auditor, seed=7)
    claims = list(Claim.objects.filter(return_record=submitted).order_by("row_number"))
    _sampled, reviewing, queried, rejected, appealed, verified, verified_too, _rest = claims
    verification.start_review(reviewing, actor=auditor)
    verification.start_review(queried, actor=auditor)
    verification.raise_query(queried, actor=auditor, text="Send the payslip for week 26.")
    for claim in (rejected, appealed):
        verification.reject_claim(claim, actor=auditor, reason_code="evidence_mismatch",
                                  note="The payslip names someone else.")
    verification.appeal_claim(appealed, actor=manager, grounds="Same person: maiden name.")
    verification.verify_claim(verified, actor=auditor, note="Payslip matches.")
    verification.verify_claim(verified_too, actor=auditor, note="Payslip matches.")

    # Payments on C3 pay the verified claims, so a post-payment check has a population.
    run_period(c3, "Jun 2012", actor=commissioner)
    verification.draw_check(c3, actor=auditor, period_from="Jun 2012",
                                    period_to="Jun 2012", size=1, seed=3)

    # External figures on a contract with a comparison cohort.
    cohorts = Contract.objects.filter(reference="COHORTS").first()
    if cohorts is None:
        from contracts.services import import_contract

        cohorts = import_contract(cohort_document(), actor=commissioner,
                                  links={"PRIME": provider}, auditor=orgs["clearview-assurance"],
                                  publish=True, reason="Fuzz data")
    external.add_dataset_rows(cohorts, [(2, {"dataset": "matched", "period": "cohort 1",
                                             "value": "1.00"})], actor=commissioner)

    # Participant events on a contract whose outcomes are sustained or voided by them.
    sib = Contract.objects.filter(reference="SIB-EVENTS").first()
    if sib is None:
        from contracts.services import import_contract

        sib = import_contract(sib_document(), actor=commissioner, links={"PRIME": provider},
                              auditor=orgs["clearview-assurance"], publish=True,
                              reason="Fuzz data")
    with_events = returns.start_return(sib, "Mar 2013", actor=manager)
    returns.add_rows(with_events, [(2, {"participant_ref": "SIB-1", "ni_number": "AB123456C",
                                        "date_of_birth": "1980-01-01",
                                        "start_date": "2013-03-01", "outcome": "entry",
                                        "achieved": "2013-03-01"})], actor=manager)
    returns.add_rows(with_events, [(2, {"participant_ref": "SIB-1", "event": ADVERSE_EVENT,
                                        "occurred": "2013-03-10"})],
                     actor=manager, kind="events", source="api")
    returns.submit_return(with_events, actor=manager)

    Job.objects.create(name="Fuzz job", organisation=provider, requested_by=manager,
                       status=JobStatus.SUCCEEDED, progress=1, total=1)
    Job.objects.create(name="Fuzz job", organisation=orgs["northshire-council"],
                       requested_by=commissioner, status=JobStatus.RUNNING, total=10)

    ids = {
        "contract_pk": list(Contract.objects.values_list("pk", flat=True)),
        "claim_pk": list(Claim.objects.values_list("pk", flat=True)),
        "return_pk": list(Return.objects.values_list("pk", flat=True)),
        "evidence_file_pk": list(EvidenceFile.objects.values_list("pk", flat=True)),
        "payment_run_pk": list(PaymentRun.objects.values_list("pk", flat=True)),
        "sample_pk": list(Sample.objects.values_list("pk", flat=True)),
        "sample_item_pk": list(SampleItem.objects.values_list("pk", flat=True)),
        "organisation_pk": list(Organisation.objects.values_list("pk", flat=True)),
        "audit_event_pk": list(AuditEvent.objects.values_list("pk", flat=True)[:50]),
        "job_pk": list(Job.objects.values_list("pk", flat=True)),
    }
    references = {
        "contract": list(Contract.objects.values_list("reference", flat=True)),
        "provider": list(Organisation.objects.values_list("slug", flat=True)),
        "username": list(User.objects.values_list("username", flat=True)),
        "period": ["Jun 2012", "Jul 2012", "Aug 2012", "Mar 2013", "P1 2013-14", "P3 2013-14",
                   "Q1 2012-13", "2012-13", "cohort 1"],
        "evidence": [f"E{proof.pk}", f"E{spare.pk}"],
        "dataset": ["matched"],
        "outcome": ["attachment", "job_outcome", "sustainment", "entry", "accommodation_12m"],
        "participant_ref": ["JUN-1", "JUL-1", "SIB-1"],
        # Returns rows: the format's column names, and cells a real row might hold (and some a
        # careless one might).
        "columns": sorted({c.name for c in (*CLAIM_COLUMNS, *INDICATOR_COLUMNS,
                                            *EVENT_COLUMNS)}),
        "cells": ["JUN-1", "NEW-1", "AB123456C", "1990-05-01", "01/05/1990", "2012-06-15",
                  "2012-07-10", "2099-01-01", "JSA_18_24", "ESA_EXIB", "attachment",
                  "job_outcome", "sustainment", "T1-NORTH", "adverse", "re_presentation",
                  f"E{proof.pk}", f"E{proof.pk};E{spare.pk}", "1", "0", "-1", "2.5",
                  "1e400", "99999999999999999999", "NaN", "=1+1", ""],
    }
    return FuzzWorld(keys=keys, ids=ids, references=references)
