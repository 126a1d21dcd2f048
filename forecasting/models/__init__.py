"""Forecasting methods, one small module each, all behind one ``Model`` interface."""

from forecasting.models.arima import ARIMA
from forecasting.models.base import Model
from forecasting.models.combination import Combination
from forecasting.models.croston import SBA, Croston
from forecasting.models.ets import ETS, DampedSeasonalETS
from forecasting.models.mean import Mean, MovingAverage, RecentMean
from forecasting.models.naive import Drift, Naive, SeasonalNaive
from forecasting.models.theta import Theta, ThetaSES
from forecasting.models.tsb import TSB

__all__ = [
    "ARIMA",
    "ETS",
    "SBA",
    "TSB",
    "Combination",
    "Croston",
    "DampedSeasonalETS",
    "Drift",
    "Mean",
    "Model",
    "MovingAverage",
    "Naive",
    "RecentMean",
    "SeasonalNaive",
    "Theta",
    "ThetaSES",
]
