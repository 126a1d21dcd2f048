"""Split a panel into chunks of whole series for a task runner, and join the results in order.

Series are independent, so a panel can be forecast chunk by chunk on worker processes or Dask
workers with :func:`forecasting.forecast_chunk`. Each chunk carries only its own series (and
their seasonal profiles), never the whole panel; the joined result is the one
:func:`forecasting.forecast_with_diagnostics` gives for the whole panel, however it was chunked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecasting.api import DIAGNOSTIC_COLUMNS, FORECAST_COLUMNS


def chunk_count(n_series: int, *, slots: int, max_series: int) -> int:
    """Number of chunks: at most ``max_series`` series each, a multiple of ``slots``.

    Parameters
    ----------
    n_series : int
        Series in the panel.
    slots : int
        Chunks the task runner runs at once (worker processes, Dask worker threads). A multiple
        of it keeps every slot busy to the last round.
    max_series : int
        Largest chunk.

    Returns
    -------
    int
        At least 1 and never more than ``n_series`` (when there is one).
    """
    slots = max(1, int(slots))
    rounds = math.ceil(n_series / (max(1, int(max_series)) * slots))
    return max(1, min(n_series, rounds * slots))


def split_panel(
    history: pd.DataFrame,
    profiles: pd.DataFrame | None = None,
    *,
    slots: int = 1,
    max_series: int = 400,
) -> list[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """``(history chunk, profiles chunk)`` pairs of whole series and of similar cost.

    Parameters
    ----------
    history : pandas.DataFrame
        Long format with ``unique_id`` and ``y`` (as :func:`forecasting.forecast`).
    profiles : pandas.DataFrame, optional
        ``unique_id, season_position, factor`` of :func:`forecasting.seasonal_profiles`: each
        chunk gets its own series' rows. None: the second item of every pair is None.
    slots, max_series : int
        As in :func:`chunk_count`, which gives the number of chunks.

    Returns
    -------
    list of tuple
        One pair per chunk (none for an empty ``history``); each series in exactly one chunk.

    Notes
    -----
    A series with many non-zero periods is smooth or erratic and costs the statsmodels fits
    (about 7 times an intermittent series), so series are dealt to the chunks round-robin from
    the one with most non-zero periods down: every chunk gets the same mix. One pass over the
    frame (a group-by on the chunk number), whatever the number of chunks.
    """
    ids = history["unique_id"]
    busy = history["y"].gt(0).groupby(ids, sort=False).sum()
    if busy.empty:
        return []
    n_chunks = chunk_count(len(busy), slots=slots, max_series=max_series)
    order = busy.sort_values(ascending=False, kind="stable").index
    chunk_of = pd.Series(np.arange(len(order)) % n_chunks, index=order)
    parts = dict(tuple(history.groupby(ids.map(chunk_of).to_numpy(), sort=True)))
    shares: dict = {}
    if profiles is not None:
        codes = profiles["unique_id"].map(chunk_of)
        known = codes.notna().to_numpy()
        shares = dict(tuple(profiles[known].groupby(codes[known].astype(int).to_numpy())))
    return [
        (part, None if profiles is None else shares.get(k, profiles.iloc[:0]))
        for k, part in parts.items()
    ]


def join_chunks(
    results: list[tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate the chunks' ``(forecasts, diagnostics)`` in any order of arrival.

    The series come out sorted by ``unique_id`` as :func:`forecasting.forecast_with_diagnostics`
    returns them for the whole panel, so the result does not depend on the chunking.
    """
    if not results:
        return pd.DataFrame(columns=FORECAST_COLUMNS), pd.DataFrame(columns=DIAGNOSTIC_COLUMNS)
    joined = []
    for frames in zip(*results, strict=True):
        frame = pd.concat(frames, ignore_index=True)
        codes, _ = pd.factorize(frame["unique_id"], sort=True)
        joined.append(frame.take(np.argsort(codes, kind="stable")).reset_index(drop=True))
    return joined[0], joined[1]
