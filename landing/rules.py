"""The feeds' Great Expectations suites, compiled to vectorised checks over a whole batch.

The committed GX suites (expectations/gx/expectations/<feed>.json) stay the one definition of
the rules. GX's pandas engine evaluates them at about 100,000 rows a second (it builds a
metric graph per expectation and copies the configuration many times per run), which made
validation most of the ingest stage on a big network. Each expectation type the suites use is
therefore compiled here to a numpy/pandas mask with GX's own semantics (nulls skipped by map
expectations, `ignore_row_if`, strict bounds), and the outcome is handed back as GX
`ExpectationSuiteValidationResult` objects, so quarantine reasons and Data Docs are the same.
`tests/landing/test_rules_match_gx.py` runs both engines on hostile and random batches and
requires the same failing rows for every expectation.

An expectation type not compiled here makes `compile_suite` raise `NotCompiled`; the caller
then runs GX itself for that suite (slower, same answers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

PARTIAL_VALUES = 20  # GX's SUMMARY-sized sample of unexpected values


class NotCompiled(Exception):
    """The suite uses an expectation type this module does not compile."""


@dataclass(frozen=True)
class Check:
    """One compiled expectation: `evaluate(frame, parameters)` -> (unexpected, missing) masks."""

    config: object  # the GX ExpectationConfiguration, as in the suite
    kind: str  # "column" | "pair" | "multicolumn" | "not_null"
    columns: tuple[str, ...]
    evaluate: Callable[[pd.DataFrame, Mapping[str, object]], tuple[np.ndarray, np.ndarray]]


def _value(kwargs: Mapping, name: str, parameters: Mapping[str, object]):
    value = kwargs.get(name)
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def _missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


def _not_null(column: str):
    def evaluate(frame, parameters):
        missing = _missing(frame[column])
        return missing, np.zeros(len(frame), dtype=bool)

    return evaluate


def _lengths_between(column: str, kwargs: Mapping):
    def evaluate(frame, parameters):
        series = frame[column]
        missing = _missing(series)
        lengths = series.astype("string[pyarrow]").str.len().to_numpy(dtype="float64", na_value=0)
        low, high = _value(kwargs, "min_value", parameters), _value(kwargs, "max_value", parameters)
        ok = np.ones(len(series), dtype=bool)
        if low is not None:
            ok &= lengths >= low
        if high is not None:
            ok &= lengths <= high
        return ~ok & ~missing, missing

    return evaluate


def _in_set(column: str, kwargs: Mapping):
    def evaluate(frame, parameters):
        series = frame[column]
        missing = _missing(series)
        allowed = list(_value(kwargs, "value_set", parameters) or [])
        ok = series.isin(allowed).to_numpy(dtype=bool)
        return ~ok & ~missing, missing

    return evaluate


def _between(column: str, kwargs: Mapping):
    def evaluate(frame, parameters):
        series = frame[column]
        missing = _missing(series)
        low, high = _value(kwargs, "min_value", parameters), _value(kwargs, "max_value", parameters)
        if low is None and high is None:
            raise ValueError("min_value and max_value cannot both be None")
        if low is not None and high is not None and low > high:
            raise ValueError("min_value cannot be greater than max_value")
        if _is_datetime(series):
            values = series.to_numpy(dtype="datetime64[ns]")
        else:
            values = series.to_numpy(dtype="float64", na_value=np.nan)
        ok = np.ones(len(series), dtype=bool)
        with np.errstate(invalid="ignore"):
            if low is not None:
                bound = _comparable(low, values)
                ok &= values > bound if kwargs.get("strict_min") else values >= bound
            if high is not None:
                bound = _comparable(high, values)
                ok &= values < bound if kwargs.get("strict_max") else values <= bound
        return ~ok & ~missing, missing

    return evaluate


def _is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series.dtype)


def _comparable(bound, values: np.ndarray):
    if values.dtype.kind == "M":
        return np.datetime64(pd.Timestamp(bound).to_datetime64(), "ns")
    return float(bound)


def _pair_greater(kwargs: Mapping):
    first, second = kwargs["column_A"], kwargs["column_B"]
    ignore = kwargs.get("ignore_row_if", "both_values_are_missing")

    def evaluate(frame, parameters):
        a, b = frame[first], frame[second]
        a_missing, b_missing = _missing(a), _missing(b)
        if ignore == "either_value_is_missing":
            missing = a_missing | b_missing
        elif ignore == "both_values_are_missing":
            missing = a_missing & b_missing
        else:
            missing = np.zeros(len(frame), dtype=bool)
        with np.errstate(invalid="ignore"):
            ok = (a >= b) if kwargs.get("or_equal") else (a > b)
        ok = ok.fillna(False).to_numpy(dtype=bool)
        return ~ok & ~missing, missing

    return evaluate


def _compound_unique(columns: tuple[str, ...], kwargs: Mapping):
    ignore = kwargs.get("ignore_row_if", "all_values_are_missing")

    def evaluate(frame, parameters):
        part = frame[list(columns)]
        nulls = part.isna().to_numpy(dtype=bool)
        if ignore == "all_values_are_missing":
            missing = nulls.all(axis=1)
        elif ignore == "any_value_is_missing":
            missing = nulls.any(axis=1)
        else:
            missing = np.zeros(len(frame), dtype=bool)
        unexpected = np.zeros(len(frame), dtype=bool)
        kept = ~missing
        unexpected[kept] = part[kept].duplicated(keep=False).to_numpy(dtype=bool)
        return unexpected, missing

    return evaluate


def compile_suite(suite) -> list[Check]:
    """A `Check` per expectation of a GX suite, in suite order; `NotCompiled` if one is unknown."""
    checks = []
    for config in (expectation.configuration for expectation in suite.expectations):
        kwargs = dict(config.kwargs)
        if kwargs.get("mostly", 1) != 1 or kwargs.get("row_condition"):
            raise NotCompiled(f"{config.type} with mostly/row_condition")
        column = kwargs.get("column")
        if config.type == "expect_column_values_to_not_be_null":
            checks.append(Check(config, "not_null", (column,), _not_null(column)))
        elif config.type == "expect_column_value_lengths_to_be_between":
            checks.append(Check(config, "column", (column,), _lengths_between(column, kwargs)))
        elif config.type == "expect_column_values_to_be_in_set":
            checks.append(Check(config, "column", (column,), _in_set(column, kwargs)))
        elif config.type == "expect_column_values_to_be_between":
            checks.append(Check(config, "column", (column,), _between(column, kwargs)))
        elif config.type == "expect_column_pair_values_a_to_be_greater_than_b":
            pair = (kwargs["column_A"], kwargs["column_B"])
            checks.append(Check(config, "pair", pair, _pair_greater(kwargs)))
        elif config.type == "expect_compound_columns_to_be_unique":
            columns = tuple(kwargs["column_list"])
            checks.append(Check(config, "multicolumn", columns, _compound_unique(columns, kwargs)))
        else:
            raise NotCompiled(config.type)
    return checks


def run_checks(
    checks: list[Check], suite_name: str, frame: pd.DataFrame, parameters: Mapping[str, object]
):
    """Evaluate compiled checks over a batch; return the GX suite result and the failing rows.

    Returns
    -------
    result, unexpected
        `result` is a GX `ExpectationSuiteValidationResult` shaped like GX's own (counts,
        percentages, the first 20 unexpected values and their positions); `unexpected` holds
        one boolean mask (by position in `frame`) per check, in suite order.
    """
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    outcomes, masks = [], []
    for check in checks:
        unexpected, missing = check.evaluate(frame, parameters)
        masks.append(unexpected)
        config = _resolved(check.config, parameters)
        details = _summary(check, frame, unexpected, missing)
        outcomes.append(
            ExpectationValidationResult(
                success=not unexpected.any(),
                expectation_config=config,
                result=details,
                exception_info={
                    "raised_exception": False,
                    "exception_message": None,
                    "exception_traceback": None,
                },
            )
        )
    successful = sum(outcome.success for outcome in outcomes)
    result = ExpectationSuiteValidationResult(
        success=successful == len(outcomes),
        results=outcomes,
        suite_name=suite_name,
        statistics={
            "evaluated_expectations": len(outcomes),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(outcomes) - successful,
            "success_percent": 100.0 * successful / len(outcomes) if outcomes else None,
        },
        meta={"engine": "dealer-vmi compiled checks (landing/rules.py)"},
    )
    return result, masks


def _resolved(config, parameters: Mapping[str, object]):
    """The expectation's configuration with its `$PARAMETER`s replaced, as GX reports it."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    kwargs = {name: _value(config.kwargs, name, parameters) for name in config.kwargs}
    return ExpectationConfiguration(type=config.type, kwargs=kwargs, meta=config.meta, id=config.id)


def _summary(check: Check, frame: pd.DataFrame, unexpected: np.ndarray, missing: np.ndarray):
    total = len(frame)
    count = int(unexpected.sum())
    positions = np.flatnonzero(unexpected)[:PARTIAL_VALUES]
    values = _values_at(check, frame, positions)
    counts = pd.Series([_hashable(value) for value in values], dtype=object).value_counts(
        dropna=False
    )
    details = {
        "element_count": total,
        "unexpected_count": count,
        "partial_unexpected_list": values,
        "partial_unexpected_counts": [
            {"value": _plain(value), "count": int(n)} for value, n in counts.items()
        ],
        "partial_unexpected_index_list": [int(p) for p in positions],
    }
    if check.kind == "not_null":
        details["unexpected_percent"] = 100.0 * count / total if total else None
        return details
    missing_count = int(missing.sum())
    nonmissing = total - missing_count
    details.update(
        unexpected_percent=100.0 * count / nonmissing if nonmissing else None,
        missing_count=missing_count,
        missing_percent=100.0 * missing_count / total if total else None,
        unexpected_percent_total=100.0 * count / total if total else None,
        unexpected_percent_nonmissing=100.0 * count / nonmissing if nonmissing else None,
    )
    return details


def _values_at(check: Check, frame: pd.DataFrame, positions: np.ndarray) -> list:
    if not len(positions):
        return []
    # Rows first, then columns: selecting the columns first would copy them whole.
    part = frame.iloc[positions][list(check.columns)]
    if check.kind in ("column", "not_null"):
        return [_plain(value) for value in part.iloc[:, 0].tolist()]
    if check.kind == "pair":
        return [[_plain(a), _plain(b)] for a, b in part.itertuples(index=False)]
    return [{name: _plain(value) for name, value in row.items()} for row in part.to_dict("records")]


def _plain(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(value.values())
    return value
