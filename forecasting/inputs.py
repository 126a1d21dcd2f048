"""Input checks and the conversion of long-format history to one array per series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("unique_id", "ds", "y")
#: Optional boolean column of ``history``: True where ``y`` is a lower bound on demand.
CENSORED_COLUMN = "censored"


@dataclass
class SeriesSet:
    """Every series on one shared regular grid of dates.

    ``values[i]`` is series ``ids[i]`` from its first to its last date, NaN where a period is
    missing or not observed; ``last_position[i]`` indexes its last date in ``grid``.
    ``censored[i]`` (None when ``history`` has no ``censored`` column) is True where
    ``values[i]`` is an observed lower bound on demand.
    """

    ids: list
    values: list[np.ndarray]
    last_position: np.ndarray
    grid: pd.DatetimeIndex
    censored: list[np.ndarray] | None = None


def check_arguments(horizon: int, season_length: int, freq: str, level: float) -> None:
    """Raise ``ValueError`` with a plain reason for a bad argument."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if (
        isinstance(season_length, bool)
        or not isinstance(season_length, (int, np.integer))
        or season_length < 1
    ):
        raise ValueError(f"season_length must be an integer >= 1, got {season_length!r}")
    if (
        isinstance(level, bool)
        or not isinstance(level, (int, float, np.integer, np.floating))
        or not 0 < level < 100
    ):
        raise ValueError(f"level must be a number strictly between 0 and 100, got {level!r}")
    try:
        pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError) as error:
        raise ValueError(f"freq {freq!r} is not a pandas offset alias (e.g. 'W-MON')") from error


def to_series(history: pd.DataFrame, freq: str, horizon: int) -> SeriesSet:
    """Check ``history`` and lay each series out on the regular ``freq`` grid.

    Parameters
    ----------
    history : pandas.DataFrame
        Long format with columns ``unique_id, ds, y`` and optionally a boolean ``censored``.
    freq : str
        Pandas offset alias of the grid.
    horizon : int
        Periods to forecast: the grid is extended by this many dates.

    Returns
    -------
    SeriesSet

    Raises
    ------
    ValueError
        Missing columns, unparseable dates or values, infinite values, duplicate
        ``(unique_id, ds)`` pairs, dates that are not on the ``freq`` grid, or a ``censored``
        column that is not boolean or has missing values.
    """
    if not isinstance(history, pd.DataFrame):
        raise ValueError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in history.columns]
    if missing:
        raise ValueError(
            f"history is missing column(s) {', '.join(missing)}; "
            "expected long format with columns unique_id, ds, y"
        )
    offset = pd.tseries.frequencies.to_offset(freq)
    if history.empty:
        return SeriesSet([], [], np.zeros(0, dtype=int), pd.DatetimeIndex([]))
    if history["unique_id"].isna().any():
        raise ValueError("history.unique_id has missing values")
    try:
        ds = pd.to_datetime(history["ds"]).to_numpy(dtype="datetime64[ns]")
    except (ValueError, TypeError) as error:
        raise ValueError(f"history.ds cannot be read as dates: {error}") from error
    if np.isnat(ds).any():
        raise ValueError("history.ds has missing dates")
    try:
        y = pd.to_numeric(history["y"]).to_numpy(dtype=float)
    except (ValueError, TypeError) as error:
        raise ValueError(f"history.y must be numeric: {error}") from error
    if np.isinf(y).any():
        raise ValueError("history.y has infinite values")
    flag = censored_flag(history)

    start = pd.Timestamp(ds.min())
    if not offset.is_on_offset(start):
        raise ValueError(f"ds {start.date()} is not on the freq {freq!r} grid")
    n_grid = len(pd.date_range(start, pd.Timestamp(ds.max()), freq=offset))
    grid = pd.date_range(start, periods=n_grid + horizon, freq=offset)
    position = grid[:n_grid].searchsorted(ds)
    off_grid = (position >= n_grid) | (grid[np.minimum(position, n_grid - 1)].values != ds)
    if off_grid.any():
        bad = pd.Timestamp(ds[np.flatnonzero(off_grid)[0]])
        raise ValueError(f"ds {bad} is not on the freq {freq!r} grid")

    codes, ids = pd.factorize(history["unique_id"], sort=True)
    order = np.lexsort((position, codes))
    codes, position, y = codes[order], position[order], y[order]
    if flag is not None:
        flag = flag[order] & ~np.isnan(y)  # a NaN y stays "not observed"
    duplicate = (np.diff(codes) == 0) & (np.diff(position) == 0)
    if duplicate.any():
        row = np.flatnonzero(duplicate)[0]
        raise ValueError(
            f"history has more than one row for unique_id {ids[codes[row]]!r}, "
            f"ds {grid[position[row]].date()}"
        )
    bounds = np.flatnonzero(np.diff(codes)) + 1
    values = []
    last_position = np.empty(len(ids), dtype=int)
    for index, (series_position, series_y) in enumerate(
        zip(np.split(position, bounds), np.split(y, bounds), strict=True)
    ):
        first = series_position[0]
        dense = np.full(series_position[-1] - first + 1, np.nan)
        dense[series_position - first] = series_y
        values.append(dense)
        last_position[index] = series_position[-1]
    censored = None
    if flag is not None:
        censored = []
        for dense, series_position, series_flag in zip(
            values, np.split(position, bounds), np.split(flag, bounds), strict=True
        ):
            dense_flag = np.zeros(len(dense), dtype=bool)
            dense_flag[series_position - series_position[0]] = series_flag
            censored.append(dense_flag)
    return SeriesSet(list(ids), values, last_position, grid, censored)


def censored_flag(history: pd.DataFrame) -> np.ndarray | None:
    """The ``censored`` column as a bool array, None when absent; ``ValueError`` if not bool-like.

    Accepted: a boolean column, or values that are all True/False or 1/0 (e.g. 0/1 integers).
    """
    if CENSORED_COLUMN not in history.columns:
        return None
    column = history[CENSORED_COLUMN]
    if column.isna().any():
        raise ValueError("history.censored has missing values; give True or False for every row")
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    for value in column.unique():
        if not (
            isinstance(value, (bool, np.bool_))
            or (isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1))
        ):
            raise ValueError(f"history.censored must be boolean (True/False or 1/0), got {value!r}")
    return column.to_numpy().astype(bool)
