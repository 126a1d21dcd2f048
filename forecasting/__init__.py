"""Demand forecasting for dealer-vmi: per-series model choice by rolling-origin backtest.

``forecast`` and ``forecast_with_diagnostics`` take long-format history
(``unique_id, ds, y``) and return one forecast frame (and one diagnostics row per series).
``seasonal_profiles`` estimates seasonal profiles pooled over groups of series (e.g. SKU
category, region), to pass to them as ``profiles=`` (or pass ``groups=`` directly).
``split_panel`` / ``forecast_chunk`` / ``join_chunks`` fan a panel out over a task runner.
See docs/forecasting.md for the choice rule, intervals and accuracy figures.
"""

from forecasting.api import forecast, forecast_chunk, forecast_with_diagnostics
from forecasting.classify import classify_demand
from forecasting.fanout import chunk_count, join_chunks, split_panel
from forecasting.seasonality import seasonal_profiles

__all__ = [
    "chunk_count",
    "classify_demand",
    "forecast",
    "forecast_chunk",
    "forecast_with_diagnostics",
    "join_chunks",
    "seasonal_profiles",
    "split_panel",
]
