"""The Arrow fast path of coercion gives the careful path's verdicts, value for value.

`landing.validate._cast_all` lets Arrow cast a whole clean column at once; one value Arrow
refuses sends the column down the careful path (regex, thousands separators, other date
spellings). Appending such a value to a column therefore yields the careful path's verdicts
for the other values: both must agree on every value and every failure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from landing.validate import _ARROW_TEXT, _to_date, _to_number, strip

NUMBERISH = st.text(alphabet="0123456789+-.eE,infaINFty ", max_size=8)
DATEISH = st.one_of(
    st.dates().map(str),
    st.text(alphabet="0123456789-/T: ", max_size=12),
    st.sampled_from(["2024-02-30", "2023-02-29", "2024-1-5", "0000-01-01", "9999-12-31"]),
)


def _column(values: list[str]) -> tuple[pd.Series, np.ndarray]:
    text = pd.Series(values, dtype=_ARROW_TEXT).str.strip()
    return text, (text != "").to_numpy(dtype=bool)


def _both_paths(convert, values: list[str], refused: str):
    fast_values, fast_bad = convert(*_column(values))
    careful_values, careful_bad = convert(*_column([*values, refused]))
    return fast_values, np.asarray(fast_bad), careful_values.iloc[:-1], np.asarray(careful_bad)[:-1]


@settings(max_examples=300, deadline=None)
@given(st.lists(NUMBERISH, max_size=12), st.booleans())
def test_number_fast_path_matches_careful_path(values, integer):
    def convert(text, present):
        return _to_number(text, present, integer=integer)

    fast, fast_bad, careful, careful_bad = _both_paths(convert, values, "x")
    assert fast_bad.tolist() == careful_bad.tolist()
    pd.testing.assert_series_equal(fast.reset_index(drop=True), careful.reset_index(drop=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(DATEISH, max_size=12))
def test_date_fast_path_matches_careful_path(values):
    fast, fast_bad, careful, careful_bad = _both_paths(_to_date, values, "x")
    assert fast_bad.tolist() == careful_bad.tolist()
    pd.testing.assert_series_equal(fast.reset_index(drop=True), careful.reset_index(drop=True))


def test_clean_columns_take_the_fast_path_and_keep_their_values():
    """Plain numbers and ISO days are cast by Arrow: values as Python parses them."""
    numbers, bad = _to_number(*_column(["1.5", "", "2e3", "-0.25", "inf"]), integer=False)
    assert numbers.tolist()[:1] == [1.5] and numbers.tolist()[2:4] == [2000.0, -0.25]
    assert bad.tolist() == [False, False, False, False, True]  # inf is a failure
    days, bad = _to_date(*_column(["2024-02-29", "", "1999-12-31"]))
    assert days.tolist()[0] == pd.Timestamp("2024-02-29") and pd.isna(days.iloc[1])
    assert not np.asarray(bad).any()


def test_values_no_column_type_can_hold_are_type_failures_not_crashes():
    """Found by the comparison above: both paths used to raise on these, failing the run."""
    numbers, bad = _to_number(*_column(["1E100", "-1e19", "9e18", "12"]), integer=True)
    assert bad.tolist() == [True, True, False, False]
    assert numbers.iloc[2] == 9 * 10**18 and numbers.iloc[3] == 12
    days, bad = _to_date(*_column(["0001-01-01", "9999-12-31", "2262-04-11"]))
    assert np.asarray(bad).tolist() == [True, True, False]
    assert days.iloc[2] == pd.Timestamp("2262-04-11")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=6), max_size=10))
def test_strip_removes_what_python_strip_removes(values):
    """The ASCII kernel is used only on all-ASCII columns, and trims Python's whitespace set
    (which includes the \\x1c-\\x1f separators); any other column takes the Unicode trim."""
    text = pd.Series(values, dtype=_ARROW_TEXT)
    assert strip(text).tolist() == [value.strip() for value in values]
