"""Money and percentage arithmetic shared by the definition format and the engine.

Floats never enter: a YAML float such as ``0.1`` is converted through its shortest repr,
so the value the author typed is the value used.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PENNY = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def to_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, str)):
        try:
            return Decimal(str(value).strip().replace(",", "").lstrip("£"))
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    if isinstance(value, float):
        return Decimal(repr(value))
    raise ValueError(f"expected a number, got {type(value).__name__}")


def money(value: object) -> Decimal:
    """Round half-up to the penny: the rounding every line uses."""
    return to_decimal(value).quantize(PENNY, rounding=ROUND_HALF_UP)


def pct_of(amount: Decimal, pct: Decimal) -> Decimal:
    return money(to_decimal(amount) * to_decimal(pct) / HUNDRED)


def instalments(total: object, count: int) -> list[Decimal]:
    """Equal instalments rounded half-up; the last takes the difference so the sum is exact."""
    if count <= 0:
        raise ValueError("an instalment schedule needs at least one instalment")
    total_d = money(total)
    each = money(total_d / count)
    return [each] * (count - 1) + [total_d - each * (count - 1)]


def gbp(amount: Decimal) -> str:
    """Format for explanations: whole pounds without pence, otherwise two places."""
    amount = money(amount)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.to_integral_value():
        return f"{sign}£{int(amount):,}"
    return f"{sign}£{amount:,.2f}"


def fmt_number(value: Decimal) -> str:
    """A measured value as a person would write it: 63, 96.25, 0.9."""
    value = to_decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    text = f"{value.normalize():f}"
    return text
