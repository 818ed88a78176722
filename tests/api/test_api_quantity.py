"""Quantities parse, compare and print as upstream's resource.Quantity does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kybernetes.api.quantity import (
    FORMAT_WRONG,
    SUFFIX_WRONG,
    canonical_quantity,
    canonical_resource_quantity,
    compare_quantities,
    format_quantity,
    milli_value,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("1Gi", Decimal(2**30)),
        ("1e3", Decimal(1000)),
        ("0.5", Decimal("0.5")),
        ("1k", Decimal(1000)),
        ("-2Ki", Decimal(-2048)),
        ("0.1n", Decimal("1e-9")),
        (5, Decimal(5)),
        (0.25, Decimal("0.25")),
    ],
    ids=["milli", "gibi", "exponent", "fraction", "kilo", "negative-binary", "below-nano-rounds-up", "int", "float"],
)
def test_parsing_gives_the_exact_value(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("100m", "100m"),
        ("1000m", "1"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000", "1k"),
        ("1024", "1024"),
        ("2048Ki", "2Mi"),
        ("1.5Gi", "1536Mi"),
        ("500Ki", "500Ki"),
        ("1e3", "1e3"),
        ("12e2", "1200"),
        ("129e6", "129e6"),
        ("0.0001", "100u"),
        ("0", "0"),
        ("0.0", "0"),
        ("+1", "+1"),
    ],
    ids=[
        "milli-kept", "milli-to-unit", "half", "one-and-half", "thousand-to-kilo", "1024-stays-decimal",
        "kibi-to-mebi", "fractional-gibi", "kibi-kept", "exponent-kept", "exponent-normalised", "exponent-mega",
        "micro", "zero", "zero-fraction", "sign-kept-like-upstream",
    ],
)
def test_canonical_text_matches_upstream(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


def test_resource_lists_round_up_to_milli_units() -> None:
    assert canonical_resource_quantity("0.0001") == "1m"
    assert canonical_resource_quantity("1n") == "1m"
    assert canonical_resource_quantity("250m") == "250m"


@pytest.mark.parametrize(
    ("text", "message"),
    [("abc", FORMAT_WRONG), ("", FORMAT_WRONG), ("1.2.3", FORMAT_WRONG), ("1K", SUFFIX_WRONG), ("1e", SUFFIX_WRONG), (True, FORMAT_WRONG)],
    ids=["letters", "empty", "two-dots", "capital-k", "bare-e", "bool"],
)
def test_bad_text_is_rejected_with_upstreams_message(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity(text)
    assert str(info.value) == message


def test_the_format_message_quotes_the_regular_expression() -> None:
    assert FORMAT_WRONG == "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def test_comparing_mixes_suffix_families() -> None:
    assert compare_quantities("1Gi", "1G") == 1
    assert compare_quantities("1000m", "1") == 0
    assert compare_quantities("500m", "0.6") == -1


def test_formatting_a_binary_value_below_1024_falls_back_to_decimal() -> None:
    assert format_quantity(Decimal(512), "BinarySI") == "512"
    assert format_quantity(Decimal("0.5"), "BinarySI") == "500m"


def test_milli_value_rounds_up() -> None:
    assert milli_value("1500m") == 1500
    assert milli_value("1n") == 1
