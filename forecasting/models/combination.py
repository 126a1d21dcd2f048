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

    Notes
    -----
    :math:`\\hat y_{T+k} = \\frac{1}{M} \\sum_{j=1}^{M} \\hat y^{(j)}_{T+k}`. Equal weights are
    hard to beat: estimated weights add noise that usually costs more than they gain (the
    "forecast combination puzzle", Smith & Wallis 2009). The backtest forecast at each origin is
    the mean of the members' backtest forecasts, so each member keeps its own backtest rule.

    References
    ----------
    Clemen, R. T. (1989). Combining forecasts: a review and annotated bibliography.
    *International Journal of Forecasting*, 5(4), 559-583.
    Smith, J. & Wallis, K. F. (2009). A simple explanation of the forecast combination puzzle.
    *Oxford Bulletin of Economics and Statistics*, 71(3), 331-355.
    """

    def __init__(self, members: list[Model], name: str = "combination") -> None:
        if not members:
            raise ValueError("a combination needs at least one member")
        self.members = members
        self.name = name
        self.min_obs = max(member.min_obs for member in members)
        lengths = [m.min_obs if m.min_length is None else m.min_length for m in members]
        self.min_length = max(lengths)

    def fit(self, y: np.ndarray) -> Combination:
        for member in self.members:
            member.fit(y)
        return self

    def predict(self, h: int) -> np.ndarray:
        return np.mean([member.predict(h) for member in self.members], axis=0)

    def backtest(self, y: np.ndarray, origins: list[int], h: int) -> np.ndarray:
        return np.mean([member.backtest(y, origins, h) for member in self.members], axis=0)
