"""Payment calculation engine: plain dataclasses in, explained payment lines out. No Django.

A run is ``statement(defn, facts, ledger, period)``: entitlement to date (``calculate``), minus
what the ledger already holds (``diff``). ``flow_down`` turns a prime's lines into each
subcontractor's.
"""

from contracts.definition.money import instalments, money

from .calculate import calculate, entitlement
from .diff import diff, statement
from .flowdown import flow_down
from .types import (
    AcceptedClaim,
    Assessment,
    Claim,
    ExternalValue,
    Facts,
    IndicatorValue,
    Ledger,
    LedgerLine,
    Line,
    Refusal,
    SampleCheck,
    Statement,
)

__all__ = [
    "AcceptedClaim", "Assessment", "Claim", "ExternalValue", "Facts", "IndicatorValue", "Ledger",
    "LedgerLine", "Line", "Refusal", "SampleCheck", "Statement", "calculate", "diff",
    "entitlement", "flow_down", "instalments", "money", "statement",
]
