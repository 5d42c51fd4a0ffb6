"""Funding amounts in exact euros and cents: what the schema's number and pattern cannot say.

JSON and YAML numbers reach here as Decimal (see ``parsing``), floats only from a caller
that parsed the file itself; either way all arithmetic is Decimal's, euros are never floats.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

MAX_AMOUNT = Decimal("999999999999.99")  # FundingLine.amount: 14 digits, 2 of them decimals
CENT = Decimal("0.01")
# As the schema's pattern for amounts written as text, surrounding blanks left out.
AMOUNT_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")

Amount = str | int | float | Decimal


def _text(value: Amount) -> str:
    # A float is read back from its shortest spelling, which is what was written.
    return repr(value) if isinstance(value, float) else str(value).strip()


def _decimal(value: Amount) -> Decimal | None:
    text = _text(value)
    if isinstance(value, str) and not AMOUNT_RE.fullmatch(text):
        return None  # "12,50", "1 000", "1e3": not written as the format says
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def amount_problem(value: object) -> str | None:
    """What is wrong with an amount the schema let through (a number, or digits), if anything."""
    if isinstance(value, bool) or not isinstance(value, Amount):
        return None  # the schema's to tell
    text, amount = _text(value), _decimal(value)
    if amount is None or not amount.is_finite():
        return _('must be an amount in euros such as "1250.50", not "%(value)s"') % {"value": text}
    if amount < 0:
        return _('must not be negative ("%(value)s")') % {"value": text}
    if amount > MAX_AMOUNT:
        return _('is too large ("%(value)s")') % {"value": text}
    if amount != amount.quantize(CENT):
        return _('has more than 2 decimal places ("%(value)s")') % {"value": text}
    return None


def amount_of(value: Amount) -> Decimal:
    """A funding amount that passed validation, in exact euros and cents."""
    amount = _decimal(value)
    if amount is None:
        raise ValueError(value)
    return amount.quantize(CENT)
