"""The quantity rule shared by `vmi approve`, the workbench and the JSON API."""

from __future__ import annotations

import math

import pytest

from planner.line_rules import (
    MAX_QTY_FLOOR,
    moq_units,
    parse_qty,
    qty_limit,
    qty_problem,
    qty_rule,
    shown,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), ("0", 0.0), (" 18 ", 18.0), ("12.0", 12.0), ("0.5", 0.5), ("007", 7.0)],
)
def test_plain_decimal_numbers_parse(text: str, value: float) -> None:
    assert parse_qty(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "1e300",  # an exponent: float() reads it as 1e300
        "1E3",
        "1_2",  # a digit separator: float() reads it as 12
        "1,200",
        "\u0661\u0662",  # Arabic-Indic digits: float() reads them as 12
        "\uff11\uff12",  # full-width digits
        "\u0967\u0968",  # Devanagari digits
        "+12",
        "inf",
        "nan",
        "Infinity",
        "0x10",
        "12.",
        ".5",
        "",
        "lots",
        "1 2",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    problem = parse_qty(text)
    assert isinstance(problem, str) and "not a number" in problem
    assert qty_problem(text, 1, 0) == problem


def test_a_minus_sign_is_a_negative_quantity() -> None:
    assert qty_problem("-6", 6, 6) == "negative quantity -6 (allowed: 0, or a multiple of 6)"
    assert qty_problem(-6.0, 6, 6).startswith("negative quantity -6")


def test_the_maximum_is_100_times_the_order_up_to_but_at_least_a_million() -> None:
    assert qty_limit() == MAX_QTY_FLOOR == 1_000_000
    assert qty_limit(math.nan) == qty_limit(None) == 1_000_000
    assert qty_limit(2_000) == 1_000_000  # 100 x 2,000 = 200,000 < 1,000,000
    assert qty_limit(50_000) == 5_000_000
    assert qty_problem(1_000_000, 1, 0) is None
    assert "above the maximum of 1,000,000" in qty_problem(1_000_001, 1, 0)
    assert qty_problem(5_000_000, 1, 0, order_up_to=50_000) is None
    assert "above the maximum of 5,000,000" in qty_problem(5_000_001, 1, 0, order_up_to=50_000)


def test_1e300_is_refused_as_text_and_as_a_number() -> None:
    assert "not a number" in qty_problem("1e300", 1, 0)
    assert "above the maximum of 1,000,000" in qty_problem(1e300, 1, 0)
    # An XLSX cell holding 1e300 arrives as its 301 digits: plain, but above the maximum.
    assert "above the maximum" in qty_problem(str(int(1e300)), 1, 0)
    assert "not a number" in qty_problem(math.inf, 1, 0)
    assert "not a number" in qty_problem(math.nan, 1, 0)


def test_the_web_api_signature_still_works() -> None:
    # web/api.py calls qty_problem(qty, pack_size, moq) with a float from JSON.
    assert qty_problem(12.0, 6, 12) is None
    assert qty_problem(7.0, 6, 6) == "qty 7 is not a multiple of pack size 6"
    assert "below the minimum order of 12" in qty_problem(6.0, 6, 12)
    assert qty_problem(True, 1, 0) == "qty 'True' is not a number"


def test_pack_and_moq_rules() -> None:
    assert moq_units(6, 10) == 12
    assert qty_rule(6, 10) == "0, or a multiple of 6 of at least 12"
    assert qty_rule(6, 0) == "0, or a multiple of 6"
    assert qty_problem("0", 6, 12) is None
    assert qty_problem("24", 6, 12) is None


def test_shown_keeps_messages_on_one_line() -> None:
    assert shown("lots") == "'lots'"
    assert shown("a\nb\rc") == "'a\\nb\\rc'"
    assert shown("x" * 100) == "'" + "x" * 40 + "...'"
