"""A Parquet float column is spelled as Python's repr spells each value (what a CSV written by
pandas carries), whether Arrow casts the column at once or the values go one by one.

The reference is `repr(float)` itself, value by value, not the reader's code.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from landing.readers import _drop_empty_arrow, _parquet_text

EVERYDAY = st.floats(min_value=1e-4, max_value=1e9, exclude_max=True).map(
    lambda v: float(f"{v:.{int(abs(v)) % 7}f}") or 1.0  # prices, quantities: few decimals
)
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


def _expected(value: float | None) -> str:
    if value is None or math.isnan(value):
        return ""
    return repr(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), EVERYDAY, st.floats(-1e9, 1e9), ANY_FLOAT), max_size=30))
def test_float_column_text_is_pythons_repr(values):
    column = pa.array(values, type=pa.float64())
    assert _parquet_text(column).to_pylist() == [_expected(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), EVERYDAY, st.just(0.0), st.just(-0.0)), min_size=1))
def test_everyday_floats_take_the_cast_and_still_read_as_repr(values):
    column = pa.chunked_array([pa.array(values, type=pa.float64())])
    assert _parquet_text(column).to_pylist() == [_expected(v) for v in values]


def test_whole_numbers_keep_the_point_and_other_magnitudes_their_exponent():
    values = [14.0, -0.0, 0.0001, 999_999_999.5, 1e9, 1e-5, 1e16, float("inf"), float("nan")]
    text = _parquet_text(pa.array(values)).to_pylist()
    assert text == ["14.0", "-0.0", "0.0001", "999999999.5", "1000000000.0", "1e-05", "1e+16",
                    "inf", ""]  # fmt: skip


def test_only_records_empty_in_every_field_are_dropped():
    table = pa.table({"a": ["x", "", "", "y"], "b": ["", "", "z", ""]})
    kept, lines = _drop_empty_arrow(table)
    assert kept.to_pydict() == {"a": ["x", "", "y"], "b": ["", "z", ""]}
    assert lines.tolist() == [2, 4, 5]
    full = pa.table({"a": ["x", "y"], "b": ["", ""]})
    assert _drop_empty_arrow(full)[0].equals(full)
    assert np.array_equal(_drop_empty_arrow(full)[1], [2, 3])
