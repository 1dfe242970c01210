"""Small builders that keep the case tests readable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from payments.engine import Claim, IndicatorValue


def D(value) -> Decimal:  # noqa: N802 - reads like the literal it stands for
    return Decimal(str(value))


def iv(indicator: str, period: str, value, **kw) -> IndicatorValue:
    return IndicatorValue(indicator=indicator, period=period,
                          value=None if value is None else D(value), **kw)


def claim(cid: str, participant: str, outcome: str, achieved: date, **kw) -> Claim:
    return Claim(id=cid, participant=participant, outcome=outcome, achieved=achieved, **kw)
