"""split_panel / forecast_chunk / join_chunks: a chunked run is the whole run, chunk by chunk."""

import numpy as np
import pandas as pd
import pytest

from forecasting import (
    chunk_count,
    forecast_chunk,
    forecast_with_diagnostics,
    join_chunks,
    seasonal_profiles,
    split_panel,
)

WEEKLY = {"season_length": 52, "freq": "W-MON"}


def dealer_panel(n_series=90, n_weeks=80, seed=3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Smooth, intermittent and all-zero weekly series, plus their pooling groups."""
    rng = np.random.default_rng(seed)
    rows, groups = [], []
    dates = pd.date_range("2024-01-01", periods=n_weeks, freq="W-MON")
    for i in range(n_series):
        rate = [6.0, 0.3, 0.0][i % 3]
        season = 1 + 0.4 * np.sin(2 * np.pi * np.arange(n_weeks) / 52 + i % 4)
        uid = f"D{i % 7}|S{i:03d}"
        rows.append(pd.DataFrame({"unique_id": uid, "ds": dates, "y": rng.poisson(rate * season)}))
        groups.append({"unique_id": uid, "category": f"c{i % 4}"})
    history = pd.concat(rows, ignore_index=True).astype({"y": float})
    return history, pd.DataFrame(groups)


def test_chunk_count_is_a_multiple_of_the_slots_and_caps_the_chunk_size():
    assert chunk_count(17_300, slots=2, max_series=400) == 44
    assert chunk_count(1_737, slots=2, max_series=400) == 6  # not 5: both slots busy to the end
    assert chunk_count(150, slots=2, max_series=400) == 2
    assert chunk_count(150, slots=1, max_series=400) == 1
    assert chunk_count(3, slots=8, max_series=400) == 3  # never an empty chunk
    assert chunk_count(0, slots=2, max_series=400) == 1


def test_each_chunk_holds_whole_series_and_only_its_own_profiles():
    history, groups = dealer_panel()
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    parts = split_panel(history, profiles, slots=2, max_series=20)
    assert len(parts) == 6  # 90 series, at most 20 a chunk, a multiple of 2
    seen = []
    for part, share in parts:
        ids = set(part["unique_id"])
        assert len(ids) <= 20
        assert set(share["unique_id"]) <= ids
        whole = history[history["unique_id"].isin(ids)]
        pd.testing.assert_frame_equal(part, whole)  # every row of its series, in order
        seen.extend(ids)
    assert sorted(seen) == sorted(history["unique_id"].unique())  # each series exactly once
    assert sum(len(share) for _, share in parts) == len(profiles)


def test_chunks_get_the_same_mix_of_expensive_and_cheap_series():
    history, _ = dealer_panel()
    parts = split_panel(history, slots=3, max_series=10)
    smooth = [
        (part.groupby("unique_id")["y"].mean() > 2).sum() for part, _ in parts
    ]  # the smooth series, the ones with statsmodels fits
    assert max(smooth) - min(smooth) <= 1
    assert all(share is None for _, share in parts)


def test_chunked_run_equals_the_whole_run_to_the_last_bit():
    history, groups = dealer_panel()
    profiles = seasonal_profiles(history, groups=groups, **WEEKLY)
    whole = forecast_with_diagnostics(history, horizon=13, profiles=profiles, **WEEKLY)
    parts = split_panel(history, profiles, slots=2, max_series=25)
    results = [
        forecast_chunk(part, horizon=13, profiles=share, **WEEKLY) for part, share in parts[::-1]
    ]  # finished in any order
    joined = join_chunks(results)
    for got, expected in zip(joined, whole, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_empty_panel_has_no_chunks_and_joins_to_empty_frames():
    history = pd.DataFrame({"unique_id": [], "ds": [], "y": []})
    assert split_panel(history, slots=2) == []
    forecasts, diagnostics = join_chunks([])
    assert forecasts.empty and diagnostics.empty
    assert "yhat" in forecasts and "sigma" in diagnostics


@pytest.mark.parametrize("slots", [1, 4])
def test_the_result_does_not_depend_on_the_chunking(slots):
    history, _ = dealer_panel(n_series=30)
    parts = split_panel(history, slots=slots, max_series=7)
    results = [forecast_chunk(part, horizon=8, **WEEKLY) for part, _ in parts]
    joined = join_chunks(results)
    whole = forecast_with_diagnostics(history, horizon=8, **WEEKLY)
    pd.testing.assert_frame_equal(joined[1], whole[1], check_exact=True)
