"""Money is a Decimal with two places; on the wire it is a string such as "12.00"."""

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_wire(amount: Decimal) -> str:
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    return str(amount.quantize(CENT))


def from_wire(text: str) -> Decimal:
    if not isinstance(text, str):
        raise TypeError(f"money on the wire is a string, got {type(text).__name__}")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount of money: {text!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {text!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"more than two decimal places: {text!r}")
    return amount.quantize(CENT)


MINUS = "\u2212"  # the minus sign, not a hyphen: "−$96.00" (SPEC §4)


def display(amount: Decimal) -> str:
    """Money for people: "$38.00", "−$96.00"; for the wire use to_wire."""
    text = to_wire(abs(amount))
    return f"{MINUS}${text}" if amount < 0 else f"${text}"
