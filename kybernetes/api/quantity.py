"""Quantities such as `100m`, `1Gi` and `1e3`: parsing, comparing and upstream's canonical text.

A quantity is a decimal number with one of three suffix families, and the family is remembered
because it decides how the value is written back (resource.Quantity in k8s.io/apimachinery):

    DecimalSI         n u m "" k M G T P E   (powers of 1000)
    BinarySI          Ki Mi Gi Ti Pi Ei       (powers of 1024)
    DecimalExponent   e<int> / E<int>         (any power of ten)

Values finer than a nanounit are rounded up, away from zero, as upstream does so that a request
for "some" resource never becomes zero. Canonical text keeps the family but picks the largest
suffix that writes the value exactly: `1000m` -> `1`, `0.5` -> `500m`, `2048Ki` -> `2Mi`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Context, Decimal, localcontext
from typing import Any

QUANTITY_REGEX = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_WRONG = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
NUMERIC_WRONG = "unable to parse numeric part of quantity"
SUFFIX_WRONG = "unable to parse quantity's suffix"

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_POWER = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_MAX_INT64 = 2**63 - 1
_NANO = Decimal("1e-9")
_MILLI = Decimal("1e-3")
# Enough digits for any int64 mantissa times a large power of ten or 2**60.
_CONTEXT = Context(prec=200)


class QuantityError(ValueError):
    """QuantityError carries upstream's message for text that is not a quantity."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """Quantity is an exact value plus its suffix family; `text` is kept when upstream would reuse it."""

    value: Decimal
    format: str = DECIMAL_SI
    text: str | None = None

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        return format_quantity(self.value, self.format)

    def round_up(self, step: Decimal) -> Quantity:
        """The value rounded up (away from zero) to a multiple of `step`; exact values keep their text."""
        exponent = self.value.as_tuple().exponent
        if not isinstance(exponent, int) or exponent >= int(step.as_tuple().exponent):
            return self
        with localcontext(_CONTEXT):
            rounded = self.value.quantize(step, rounding=ROUND_UP)
        if rounded == self.value:
            return self
        return Quantity(rounded, self.format)


def _split(text: str) -> tuple[bool, str, str, str]:
    """Split text the way upstream's parseQuantityString does: sign, numerator, denominator, suffix."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Base, exponent and family of a suffix; raises for an unknown suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body.isdigit() and body.isascii():
            return 10, int(digits), DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_WRONG)


def _reused_text(text: str, num: str, denom: str, base: int, exponent: int, fmt: str) -> str | None:
    """The original text when upstream's fast path keeps it (it is then already canonical, or nearly so)."""
    shifted = num + denom
    if fmt == BINARY_SI:
        if denom or exponent < 0:
            return None
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        if precision < 0 or int(shifted) > _MAX_INT64 >> exponent:
            return None
        return text if exponent % 10 == 0 and int(shifted) & 0x07 != 0 else None
    precision = 18 - len(shifted)
    scale = exponent - len(denom)
    if precision < 0 or scale < -9:
        return None
    if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
        return text
    return None


def parse(text: Any) -> Quantity:
    """Parse a quantity from its JSON form (a string, or a bare number as upstream also accepts)."""
    if isinstance(text, bool) or text is None:
        raise QuantityError(FORMAT_WRONG)
    if isinstance(text, (int, float)):
        text = repr(text) if isinstance(text, float) else str(text)
    if not isinstance(text, str):
        raise QuantityError(FORMAT_WRONG)
    text = text.strip()
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == "0":
        return Quantity(Decimal(0), DECIMAL_SI, "0")
    positive, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    with localcontext(_CONTEXT):
        digits = Decimal(int(num + denom))
        if base == 10:
            value = digits.scaleb(exponent - len(denom))
        else:
            value = digits.scaleb(-len(denom)) * (Decimal(2) ** exponent)
        if not positive:
            value = -value
        if value != 0 and int(value.as_tuple().exponent) < -9:
            value = value.quantize(_NANO, rounding=ROUND_UP)
        if fmt == BINARY_SI and value > _MAX_INT64:
            value = Decimal(_MAX_INT64)
    if fmt == BINARY_SI and value == 0:
        fmt = DECIMAL_SI
    reused = _reused_text(text, num, denom, base, exponent, fmt) if value != 0 else None
    return Quantity(value, fmt, reused)


def parse_quantity(text: Any) -> Decimal:
    """The exact value of a quantity; raises ValueError with upstream's message when it is not one."""
    return parse(text).value


def format_quantity(value: Decimal, fmt: str = DECIMAL_SI) -> str:
    """Upstream's canonical text for a value in a suffix family (Quantity.String())."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = -value if value < 0 else value
    if fmt == BINARY_SI:
        if magnitude < 1024 or magnitude != magnitude.to_integral_value():
            fmt = DECIMAL_SI
        else:
            amount = int(magnitude)
            power = 0
            while amount % 1024 == 0 and power < 6:
                amount //= 1024
                power += 1
            return f"{sign}{amount}{_BINARY_BY_POWER[power]}"
    _, digit_tuple, exponent = magnitude.normalize(_CONTEXT).as_tuple()
    amount = int("".join(str(d) for d in digit_tuple))
    exponent = int(exponent)
    # Lower the exponent to a multiple of three so a suffix can name it.
    shift = exponent % 3
    amount *= 10**shift
    exponent -= shift
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{amount}" + (f"e{exponent}" if exponent else "")
    suffix = _DECIMAL_BY_EXPONENT.get(exponent)
    if suffix is None:
        return f"{sign}{amount}e{exponent}"
    return f"{sign}{amount}{suffix}"


def canonical_quantity(text: Any) -> str:
    """The text upstream stores for a quantity field (a round trip through Quantity)."""
    return str(parse(text))


def canonical_resource_quantity(text: Any) -> str:
    """The text upstream stores in a ResourceList: rounded up to milli-units first (SetDefaults_ResourceList)."""
    return str(parse(text).round_up(_MILLI))


def compare_quantities(a: Any, b: Any) -> int:
    """-1, 0 or 1 as the value of `a` is below, equal to or above `b`."""
    x, y = parse_quantity(a), parse_quantity(b)
    return (x > y) - (x < y)


def milli_value(text: Any) -> int:
    """The value in milli-units, rounded up, as Quantity.MilliValue()."""
    with localcontext(_CONTEXT):
        return int((parse_quantity(text) * 1000).to_integral_value(rounding=ROUND_UP))
