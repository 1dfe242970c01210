"""Each subcontractor's ledger: the flow-down of every posted line, period by period.

Nothing is stored for subcontractors: their lines are derived from the prime's append-only ledger
with the same ``flow_down`` the statement uses, run by run under the terms each run used, so the
subcontractor ledger and the statements can never disagree.
"""

from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import Decimal

from payments import engine
from payments.forecast import current_terms

from .models import LedgerLine, RunStatus

ZERO = Decimal("0.00")


@dataclass
class SubcontractorRow:
    period: str
    period_index: int
    run_id: int
    run_status: str
    prime_line_id: int | None
    key: str
    kind: str
    rule_id: str
    amount: Decimal
    running_total: Decimal
    explanation: str
    references: tuple[str, ...]
    inputs: dict


@dataclass
class SubcontractorLedger:
    code: str
    name: str
    management_fee_pct: Decimal
    clawback_passdown: str
    rows: list[SubcontractorRow] = field(default_factory=list)
    outcome_payments: Decimal = ZERO
    management_fee: Decimal = ZERO
    deductions: Decimal = ZERO
    approved: Decimal = ZERO
    awaiting_approval: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.approved + self.awaiting_approval


def subcontractor_ledgers(contract, *, codes=None, approved_only=False):
    """{code: SubcontractorLedger} in the order of the current terms, for the `codes` given
    (None: every subcontractor). Rows run in period order with a running total."""
    version = current_terms(contract)
    current = version.definition() if version else None
    ledgers = {}
    for sub in (current.subcontractors if current else ()):
        if codes is None or sub.code in codes:
            ledgers[sub.code] = SubcontractorLedger(sub.code, sub.name or sub.code,
                                                    sub.management_fee_pct, sub.clawback_passdown)
    lines = (LedgerLine.objects.filter(contract=contract, shadow=False)
             .select_related("run__terms_version").order_by("run__period_index", "id"))
    if approved_only:
        lines = lines.filter(run__status=RunStatus.APPROVED)
    by_run = defaultdict(list)
    runs = {}
    for line in lines:
        by_run[line.run_id].append(line)
        runs[line.run_id] = line.run
    definitions = {}
    for run_id, posted in by_run.items():
        run = runs[run_id]
        if run.terms_version_id not in definitions:
            definitions[run.terms_version_id] = run.terms_version.definition()
        definition = definitions[run.terms_version_id]
        if not definition.subcontractors:
            continue
        prime_ids = defaultdict(deque)
        for ln in posted:
            prime_ids[ln.key].append(ln.pk)
        engine_lines = [engine.Line(key=ln.key, kind=ln.kind, rule_id=ln.rule_id,
                                    period=ln.period_id, amount=ln.amount,
                                    explanation=ln.explanation, inputs=ln.inputs,
                                    references=tuple(ln.references),
                                    subcontractor=ln.subcontractor or None,
                                    participant=ln.participant or None) for ln in posted]
        seen = defaultdict(set)
        for flow in engine.flow_down(engine_lines, definition):
            # flow_down keeps posting order, and gives each subcontractor at most one line per
            # prime line: meeting a subcontractor again for the same key means the next posting.
            source_key = flow.references[0]
            queue = prime_ids.get(source_key)
            if flow.subcontractor in seen[source_key] and queue and len(queue) > 1:
                queue.popleft()
                seen[source_key] = set()
            seen[source_key].add(flow.subcontractor)
            prime_line_id = queue[0] if queue else None
            ledger = ledgers.get(flow.subcontractor)
            if ledger is None:
                continue
            if flow.kind == "flow_down":
                ledger.outcome_payments += Decimal(flow.inputs["prime_amount"])
                ledger.management_fee += Decimal(flow.inputs["management_fee"])
            else:
                ledger.deductions += flow.amount
            if run.status == RunStatus.APPROVED:
                ledger.approved += flow.amount
            else:
                ledger.awaiting_approval += flow.amount
            ledger.rows.append(SubcontractorRow(
                period=run.period_id, period_index=run.period_index, run_id=run.pk,
                run_status=run.status, prime_line_id=prime_line_id, key=flow.key,
                kind=flow.kind, rule_id=flow.rule_id, amount=flow.amount,
                running_total=ledger.total, explanation=flow.explanation,
                references=tuple(flow.references), inputs=dict(flow.inputs)))
    return ledgers


def ledgers_json(contract, ledgers):
    return {
        "contract": contract.reference,
        "subcontractors": [{
            "subcontractor": ledger.code, "name": ledger.name,
            "management_fee_pct": str(ledger.management_fee_pct),
            "clawback_passdown": ledger.clawback_passdown,
            "outcome_payments": str(ledger.outcome_payments),
            "management_fee": str(ledger.management_fee), "deductions": str(ledger.deductions),
            "approved": str(ledger.approved), "awaiting_approval": str(ledger.awaiting_approval),
            "total": str(ledger.total),
            "lines": [{"period": r.period, "run": r.run_id, "run_status": r.run_status,
                       "prime_line": r.prime_line_id, "key": r.key, "kind": r.kind,
                       "rule": r.rule_id, "amount": str(r.amount),
                       "running_total": str(r.running_total), "explanation": r.explanation,
                       "references": list(r.references)} for r in ledger.rows],
        } for ledger in ledgers.values()],
    }
