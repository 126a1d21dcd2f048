"""Equal-weight forecast combination: the mean of several methods' forecasts."""

from __future__ import annotations

import numpy as np

from forecasting.models.base import Model


class Combination(Model):
    """Mean of the point forecasts of ``members``, each fitted on the same series.

    Parameters
    ----------
    members : list of Model
        Methods to combine, with equal weights.
    name : str, default "combination"
        Name reported in the ``model`` column.
    non_negative : bool, default False
        On data with no negative observation, clip each member's forecast at 0 before taking
        the mean, so that one member extrapolating a falling trend below zero does not pull
        the others down.

    Notes
    -----
    :math:`\\hat y_{T+k} = \\frac{1}{M} \\sum_{j=1}^{M} \\hat y^{(j)}_{T+k}`. Equal weights are
    hard to beat: estimated weights add noise that usually costs more than they gain (the
    "forecast combination puzzle", Smith & Wallis 2009). The backtest forecast at each origin is
    the mean of the members' backtest forecasts, so each member keeps its own backtest rule; a
    member that cannot be fitted on the data before an origin (seasonal naive before one full
    season) is left out of that origin's mean.

    References
    ----------
    Clemen, R. T. (1989). Combining forecasts: a review and annotated bibliography.
    *International Journal of Forecasting*, 5(4), 559-583.
    Smith, J. & Wallis, K. F. (2009). A simple explanation of the forecast combination puzzle.
    *Oxford Bulletin of Economics and Statistics*, 71(3), 331-355.
    """

    def __init__(
        self, members: list[Model], name: str = "combination", *, non_negative: bool = False
    ) -> None:
        if not members:
            raise ValueError("a combination needs at least one member")
        self.members = members
        self.name = name
        self.non_negative = non_negative
        self.min_obs = max(member.min_obs for member in members)
        lengths = [m.min_obs if m.min_length is None else m.min_length for m in members]
        self.min_length = max(lengths)

    def _clips(self, y: np.ndarray) -> bool:
        return self.non_negative and bool(np.nanmin(y) >= 0)

    def fit(self, y: np.ndarray) -> Combination:
        for member in self.members:
            member.fit(y)
        self.clip_ = self._clips(y)
        return self

    def predict(self, h: int) -> np.ndarray:
        forecasts = np.array([member.predict(h) for member in self.members])
        return np.mean(np.maximum(forecasts, 0.0) if self.clip_ else forecasts, axis=0)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        forecasts = np.zeros((len(self.members), len(origins), h))
        used = np.zeros((len(self.members), len(origins)), dtype=bool)
        for j, member in enumerate(self.members):
            usable = [i for i, origin in enumerate(origins) if member.fits_on(y[:origin])]
            if usable:  # later origins have more data: usable is a tail of the origins
                forecasts[j, usable] = member.backtest(y, [origins[i] for i in usable], h)
                used[j, usable] = True
        for i, origin in enumerate(origins):
            if self._clips(y[:origin]):
                forecasts[:, i] = np.maximum(forecasts[:, i], 0.0)  # NaN stays NaN
        if used.all():
            return np.mean(forecasts, axis=0)
        rows = [
            np.mean(forecasts[used[:, i], i], axis=0) if used[:, i].any() else np.full(h, np.nan)
            for i in range(len(origins))
        ]
        return np.vstack(rows)
