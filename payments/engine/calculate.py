"""Entitlement to date: every mechanism in dependency order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts.definition import ContractDefinition, Period
from contracts.definition.model import (
    Cap,
    CohortBaseline,
    CoreInstalments,
    OnAccountReconciliation,
    PerformancePayment,
    PeriodicBonus,
    SampleRecovery,
    TargetBand,
    ThresholdPenalty,
    VolumeReconciliation,
)

from . import adjust, measures, schedule
from .claims import assess_claims
from .context import Context
from .types import AcceptedClaim, Assessment, Facts, Line

# Scheduled money first (reconciliations read it), then claims and measures, then recoveries,
# and caps last because they look at everything else.
MEASURES = (
    (OnAccountReconciliation, schedule.on_account_reconciliation),
    (VolumeReconciliation, schedule.volume_reconciliation),
    (TargetBand, measures.target_band),
    (PeriodicBonus, measures.periodic_bonus),
    (ThresholdPenalty, measures.threshold_penalty),
    (PerformancePayment, measures.performance_payment),
    (CohortBaseline, measures.cohort_baseline),
    (SampleRecovery, adjust.sample_recovery),
)


def calculate(defn: ContractDefinition, facts: Facts, up_to_period: Period | str,
              settled: frozenset[str] | set[str] = frozenset(),
              settled_refused: frozenset[str] | set[str] | None = None,
              prior: Mapping[str, Sequence[AcceptedClaim]] | None = None) -> Assessment:
    """Entitlement to date.

    `settled`: ids of claims whose assessment is known to be unchanged since their lines were
    posted (a run that only adds later claims for a participant, ADR 0012). Later claims still
    see them, but their lines are not built: only their keys are returned, in
    ``Assessment.settled_keys``, for the caller to leave out of the diff. Only valid when
    nothing sums lines across claims (no cap rule).

    `settled_refused`: which of the settled claims the last computation refused. When given,
    a settled claim is not checked again: a refused one is passed over (its refusal stands, and
    is not repeated in ``Assessment.refusals``), an accepted one is replayed, which is all a
    later claim needs of it: its checks read only its participant's earlier claims, settled
    too, so they would come out as they did. Without it, settled claims are checked as usual.

    `prior`: for some participants, the claims accepted for them before every claim of theirs in
    ``facts`` (as ``Assessment.accepted`` gave them back, ADR 0022). Their claims are assessed
    as if those had been replayed first; the facts then need hold only the new claims. Their
    lines are not built either (the caller knows them to be posted). Only valid when nothing
    sums lines across claims (no cap rule).
    """
    ctx = Context.create(defn, facts, up_to_period)
    ctx.settled = frozenset(settled)
    ctx.settled_refused = None if settled_refused is None else frozenset(settled_refused)
    ctx.prior = dict(prior or {})
    for rule in defn.rules:
        if isinstance(rule, CoreInstalments):
            schedule.core_instalments(ctx, rule)
    assess_claims(ctx)
    for rule_type, mechanism in MEASURES:
        for rule in defn.rules:
            if isinstance(rule, rule_type):
                mechanism(ctx, rule)
    if facts.samples and not any(isinstance(r, SampleRecovery) for r in defn.rules):
        ctx.notes.append("post-payment samples were supplied but the contract has no "
                         "sample_recovery rule, so nothing is recovered.")
    for rule in defn.rules:
        if isinstance(rule, Cap):
            adjust.caps(ctx, rule)
    lines = tuple(ln for ln in ctx.lines if ctx.reached(ctx.period(ln.period)))
    return Assessment(lines=lines, refusals=tuple(ctx.refusals), notes=tuple(ctx.notes),
                      settled_keys=frozenset(ctx.settled_keys), accepted=ctx.accepted)


def entitlement(defn: ContractDefinition, facts: Facts,
                up_to_period: Period | str) -> list[Line]:
    """Cumulative entitlement up to and including ``up_to_period``."""
    return list(calculate(defn, facts, up_to_period).lines)
