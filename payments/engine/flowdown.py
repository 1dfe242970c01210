"""Supply-chain flow-down: what each subcontractor is owed from the prime's lines.

Also the one way money is shared out to the penny (``allocate``): funders' shares of a pooled
budget and subcontractors' shares of a prime-level clawback use it, so shares always add back up
to the amount shared and the leftover pennies go to the same place every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from contracts.definition import ContractDefinition
from contracts.definition.model import Subcontractor
from contracts.definition.money import PENNY, fmt_number, gbp, money

from .types import Facts, Line

ZERO = Decimal("0.00")
# Prime-level deductions that a supply chain shares (002:2031-2033).
PASSED_DOWN = frozenset({"recovery", "clawback", "penalty"})
# Recovery lines may carry the sample's findings as inputs "errors_by_subcontractor:<code>", so a
# statement built from the ledger alone can still pass a recovery down to those at fault.
FINDINGS_PREFIX = "errors_by_subcontractor:"


@dataclass(frozen=True)
class Split:
    """An amount shared out to the penny.

    ``exact``: each share before rounding; ``amounts``: to the penny, adding up to ``total``;
    ``residue_to``: the positions that received one of the pennies left over by rounding down.
    """

    total: Decimal
    exact: tuple[Decimal, ...]
    amounts: tuple[Decimal, ...]
    residue_to: tuple[int, ...]

    @property
    def residue(self) -> Decimal:
        return PENNY * len(self.residue_to) * (-1 if self.total < 0 else 1)


def allocate(amount: Decimal, fractions: Sequence[Decimal]) -> Split:
    """Share ``amount`` by ``fractions`` exactly, to the penny (largest remainder).

    The shared total is the exact sum of the shares rounded half-up (``amount`` itself when the
    fractions add up to 1). Each share is first rounded down to the penny; the pennies left over
    go one each to the shares with the largest fraction of a penny cut off, ties to the earlier
    position. Negative amounts are shared like positive ones, so a clawback splits exactly as
    the payment it reverses.
    """
    sign = -1 if amount < 0 else 1
    size = abs(Decimal(amount))
    exact = [size * Decimal(f) for f in fractions]
    total = money(sum(exact, Decimal(0)))
    floors = [e.quantize(PENNY, rounding=ROUND_DOWN) for e in exact]
    left = int((total - sum(floors, ZERO)) / PENNY)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    residue_to = tuple(sorted(order[:left])) if left > 0 else ()
    amounts = [f + (PENNY if i in residue_to else ZERO) for i, f in enumerate(floors)]
    return Split(total=sign * total, exact=tuple(sign * e for e in exact),
                 amounts=tuple(sign * a for a in amounts), residue_to=residue_to)


def _net(sub: Subcontractor, amount: Decimal) -> tuple[Decimal, Decimal, Decimal, str]:
    """(passed down, management fee, net to the subcontractor, explanation) for outcome money.

    The fee is whatever separates the penny-rounded amount passed down from the penny-rounded
    net, so passed down = fee + net holds exactly on every line.
    """
    passed = amount * sub.outcome_pass_through_pct / 100
    net = money(passed - passed * sub.management_fee_pct / 100)
    fee = money(passed) - net
    through = (f"{fmt_number(sub.outcome_pass_through_pct)}% passed down, "
               if sub.outcome_pass_through_pct != 100 else "")
    return money(passed), fee, net, (
        f"{gbp(amount)}, {through}less the prime's {fmt_number(sub.management_fee_pct)}% "
        f"management fee ({gbp(fee)}) = {gbp(net)}")


def _findings(line: Line, facts: Facts | None) -> dict[str, int]:
    if facts is not None:
        sample = next((s for s in facts.samples if s.id in line.references), None)
        if sample is not None:
            return dict(sample.errors_by_subcontractor)
    return {k[len(FINDINGS_PREFIX):]: int(v) for k, v in line.inputs.items()
            if k.startswith(FINDINGS_PREFIX)}


def _shares(defn: ContractDefinition, lines: list[Line], facts: Facts | None,
            line: Line) -> dict[str, tuple[Decimal, str]]:
    subs = defn.subcontractors
    outcome_value = {s.code: sum((ln.amount for ln in lines
                                  if ln.subcontractor == s.code and ln.kind == "outcome"), ZERO)
                     for s in subs}
    all_outcomes = sum((ln.amount for ln in lines if ln.kind == "outcome"), ZERO)
    errors = None
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
            if errors is None:
                errors = _findings(line, facts)
            total = sum(errors.values())
            share = Decimal(errors.get(s.code, 0)) / total if total else Decimal(0)
            shares[s.code] = (share, f"at fault for {errors.get(s.code, 0)} of {total} errors")
    return shares


def flow_down(lines: Iterable[Line], defn: ContractDefinition,
              facts: Facts | None = None) -> list[Line]:
    """Per-subcontractor lines: its own outcome money net of the management fee, plus its share
    of prime-level recoveries and clawbacks under its pass-down policy.

    Outcome lines carry inputs ``passed_down``, ``management_fee`` and ``retained_by_prime`` so a
    statement can total what the prime keeps; shared deductions are split with ``allocate``.
    """
    lines = list(lines)
    out: list[Line] = []
    for line in lines:
        if line.shadow or line.amount == 0:
            continue
        if line.subcontractor:
            sub = defn.subcontractor(line.subcontractor)
            if sub is None:
                continue
            passed, fee, net, how = _net(sub, line.amount)
            out.append(Line(
                key=f"flow:{sub.code}:{line.key}", kind="flow_down", rule_id=line.rule_id,
                period=line.period, amount=net,
                explanation=f"{sub.name or sub.code}: {line.explanation.rstrip('.')} — "
                            f"{how}.",
                inputs={"prime_amount": str(line.amount), "fee_pct": str(sub.management_fee_pct),
                        "pass_through_pct": str(sub.outcome_pass_through_pct),
                        "passed_down": str(passed), "management_fee": str(fee),
                        "retained_by_prime": str(line.amount - net)},
                references=(line.key, *line.references), subcontractor=sub.code,
                participant=line.participant))
        elif line.kind in PASSED_DOWN and defn.subcontractors:
            shares = _shares(defn, lines, facts, line)
            codes = list(shares)
            split = allocate(line.amount, [shares[c][0] for c in codes])
            for i, code in enumerate(codes):
                amount = split.amounts[i]
                if amount == 0:
                    continue
                share, why = shares[code]
                penny = (f", including the 1p left over when the {gbp(-line.amount)} was "
                         "shared to the penny" if i in split.residue_to else "")
                out.append(Line(
                    key=f"flow:{code}:{line.key}", kind=line.kind, rule_id=line.rule_id,
                    period=line.period, amount=amount,
                    explanation=f"Share of the prime's {gbp(-line.amount)} {line.kind} "
                                f"({why}{penny}): {gbp(-amount)}.",
                    inputs={"prime_amount": str(line.amount), "share": str(share),
                            "exact_share": str(split.exact[i])},
                    references=(line.key, *line.references), subcontractor=code))
    return out
