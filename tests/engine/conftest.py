"""Engine tests are pure Python: no Django settings, no database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from contracts.definition import load_file, periods
from payments.engine import Ledger, statement

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"


def example(name: str):
    return load_file(EXAMPLES / name)


class Runner:
    """Runs a contract period by period, posting each statement to an in-memory ledger."""

    def __init__(self, defn, facts):
        self.defn = defn
        self.facts = facts
        self.ledger = Ledger()
        self.statements = {}

    def run(self, period_id: str):
        st = statement(self.defn, self.facts, self.ledger, period_id)
        self.ledger = self.ledger.post(st.lines)
        self.statements[period_id] = st
        return st

    def run_all(self, until: str | None = None):
        for p in periods(self.defn):
            self.run(p.id)
            if p.id == until:
                break
        return self

    def paid_in(self, period_id: str) -> Decimal:
        return self.statements[period_id].payable

    def paid_in_year(self, fy: str) -> Decimal:
        return sum((self.paid_in(p.id) for p in periods(self.defn)
                    if p.financial_year == fy and p.id in self.statements), Decimal("0.00"))


@pytest.fixture
def runner():
    return Runner
