"""Supply-chain flow-down: what each subcontractor is owed from the prime's lines."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from contracts.definition import ContractDefinition
from contracts.definition.model import Subcontractor
from contracts.definition.money import fmt_number, gbp, money

from .types import Facts, Line

ZERO = Decimal("0.00")
# Prime-level deductions that a supply chain shares (002:2031-2033).
PASSED_DOWN = frozenset({"recovery", "clawback", "penalty"})


def _net(sub: Subcontractor, amount: Decimal) -> tuple[Decimal, str]:
    passed = amount * sub.outcome_pass_through_pct / 100
    fee = passed * sub.management_fee_pct / 100
    net = money(passed - fee)
    through = (f"{fmt_number(sub.outcome_pass_through_pct)}% passed down, "
               if sub.outcome_pass_through_pct != 100 else "")
    return net, (f"{gbp(amount)}, {through}less the prime's "
                 f"{fmt_number(sub.management_fee_pct)}% management fee ({gbp(money(fee))}) = "
                 f"{gbp(net)}")


def _shares(defn: ContractDefinition, lines: list[Line], facts: Facts | None,
            line: Line) -> dict[str, tuple[Decimal, str]]:
    subs = defn.subcontractors
    outcome_value = {s.code: sum((ln.amount for ln in lines
                                  if ln.subcontractor == s.code and ln.kind == "outcome"), ZERO)
                     for s in subs}
    all_outcomes = sum((ln.amount for ln in lines if ln.kind == "outcome"), ZERO)
    sample = None
    if facts is not None:
        sample = next((s for s in facts.samples if s.id in line.references), None)
    shares = {}
    for s in subs:
        if s.clawback_passdown == "evenly":
            shares[s.code] = (Decimal(1) / len(subs), f"shared evenly across {len(subs)} "
                                                        "subcontractors")
        elif s.clawback_passdown == "pro_rata":
            if s.delivery_share_pct is not None:
                share = Decimal(s.delivery_share_pct) / 100
            else:
                share = outcome_value[s.code] / all_outcomes if all_outcomes else Decimal(0)
            shares[s.code] = (share, f"pro rata to its {fmt_number(round(share * 100, 2))}% "
                                     "share of delivery")
        else:
            errors = sample.errors_by_subcontractor if sample else {}
            total = sum(errors.values())
            share = Decimal(errors.get(s.code, 0)) / total if total else Decimal(0)
            shares[s.code] = (share, f"at fault for {errors.get(s.code, 0)} of {total} errors")
    return shares


def flow_down(lines: Iterable[Line], defn: ContractDefinition,
              facts: Facts | None = None) -> list[Line]:
    """Per-subcontractor lines: its own outcome money net of the management fee, plus its share
    of prime-level recoveries and clawbacks under its pass-down policy."""
    lines = list(lines)
    out: list[Line] = []
    for line in lines:
        if line.shadow or line.amount == 0:
            continue
        if line.subcontractor:
            sub = defn.subcontractor(line.subcontractor)
            if sub is None:
                continue
            net, how = _net(sub, line.amount)
            out.append(Line(
                key=f"flow:{sub.code}:{line.key}", kind="flow_down", rule_id=line.rule_id,
                period=line.period, amount=net,
                explanation=f"{sub.name or sub.code}: {line.explanation.rstrip('.')} — "
                            f"{how}.",
                inputs={"prime_amount": str(line.amount), "fee_pct": str(sub.management_fee_pct)},
                references=(line.key, *line.references), subcontractor=sub.code,
                participant=line.participant))
        elif line.kind in PASSED_DOWN and defn.subcontractors:
            for code, (share, why) in _shares(defn, lines, facts, line).items():
                amount = money(line.amount * share)
                if amount == 0:
                    continue
                out.append(Line(
                    key=f"flow:{code}:{line.key}", kind=line.kind, rule_id=line.rule_id,
                    period=line.period, amount=amount,
                    explanation=f"Share of the prime's {gbp(-line.amount)} {line.kind} "
                                f"({why}): {gbp(-amount)}.",
                    inputs={"prime_amount": str(line.amount), "share": str(share)},
                    references=(line.key, *line.references), subcontractor=code))
    return out
