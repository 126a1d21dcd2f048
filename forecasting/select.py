"""Per-series model choice: candidates by demand class, winner by rolling-origin backtest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting import backtest, censoring
from forecasting.classify import classify_demand
from forecasting.intervals import interval
from forecasting.models import (
    ARIMA,
    ETS,
    SBA,
    TSB,
    Combination,
    Croston,
    DampedSeasonalETS,
    Drift,
    Mean,
    Model,
    MovingAverage,
    Naive,
    RecentMean,
    SeasonalNaive,
    Theta,
    ThetaSES,
)
from forecasting.models.ets import MAX_SEASON_LENGTH, seasonal_form
from forecasting.models.mean import default_window
from forecasting.seasonality import SeasonallyAdjusted, adjusted_observed, seasonal_variants

INTERMITTENT_CLASSES = ("intermittent", "lumpy")


@dataclass
class SeriesForecast:
    """Forecast and diagnostics of one series."""

    yhat: np.ndarray
    yhat_lo: np.ndarray
    yhat_hi: np.ndarray
    model: str
    demand_class: str
    sigma: float
    mase: float
    wape: float
    bias: float
    n_obs: int
    adi: float
    cv2: float


def candidates(
    demand_class: str,
    train: np.ndarray,
    season_length: int,
    *,
    arima: bool = False,
    combine: bool = True,
    profiled: bool = False,
) -> list[Model]:
    """Methods worth backtesting for a series of this class, given its first training window.

    Parameters
    ----------
    demand_class : str
        From :func:`forecasting.classify.classify_demand`.
    train : numpy.ndarray
        The series up to the first backtest origin: a method enters only if it can be fitted
        on it.
    season_length : int
        Periods per season.
    arima : bool, default False
        Also try ARIMA(1,1,1) on smooth and erratic series (not where a combination is the
        rule).
    combine : bool, default True
        False: never a fixed combination, always the per-method candidates below (for a
        series with a pooled seasonal profile, or when the combination failed to fit).
    profiled : bool, default False
        The series has a pooled seasonal profile and spans at least one season
        (:func:`forecast_series` decides): a smooth or erratic series with a season longer
        than ``MAX_SEASON_LENGTH`` (weekly) then has one candidate,
        :class:`~forecasting.models.theta.ThetaSES` (run on the deseasonalised series), when
        it fits on ``train``.

    Returns
    -------
    list of Model
        In order of preference: on equal scores the earlier one wins.
    """
    window = default_window(season_length)
    if combine and season_length == 1 and demand_class not in INTERMITTENT_CLASSES:
        # Non-seasonal (e.g. yearly) series are short and their backtest windows tiny, so
        # picking one method by backtest mostly picks noise; a fixed equal-weight combination
        # is steadier (see non_seasonal_combination and docs/forecasting.md).
        # Too little data before the first origin for it: the usual candidates below.
        combination = non_seasonal_combination()
        if combination.fits_on(train):
            return [combination]
    if (
        combine
        and 1 < season_length <= MAX_SEASON_LENGTH
        and demand_class not in INTERMITTENT_CLASSES
    ):
        # Monthly, quarterly (any season up to 24): three backtest windows choose one method
        # less well than a fixed combination forecasts (see seasonal_combination). Seasonal
        # naive needs a full season; before that it sits out of the backtest's mean.
        combination = seasonal_combination(season_length)
        if all(m.fits_on(train) for m in combination.members if not isinstance(m, SeasonalNaive)):
            return [combination]
    if (
        profiled
        and season_length > MAX_SEASON_LENGTH
        and demand_class not in INTERMITTENT_CLASSES
        and ThetaSES().fits_on(train)
    ):
        # Weekly demand with a pooled profile: the deseasonalised level and its trend. The
        # three-window backtest kept SES or a moving average, which lag a trending series by
        # weeks (docs/forecasting.md, "Weekly level: Theta").
        return [ThetaSES()]
    if demand_class in INTERMITTENT_CLASSES:
        pool: list[Model] = [SBA(), TSB(), Croston(), MovingAverage(window), Mean()]
    else:
        pool = [ETS()]
        # Theta costs three statsmodels fits per backtest; on weekly data (seasons too long to
        # deseasonalise in the backtest) it is SES plus a drift and rarely beat SES or damped
        # ETS in benchmarks/bench_forecast_speed.py, so it is kept for shorter seasons.
        if season_length <= MAX_SEASON_LENGTH:
            pool.append(Theta(season_length))
        pool.append(ETS(trend=True))
        form = seasonal_form(train, season_length)
        if form is not None:
            pool.append(ETS(season_length, trend=True, seasonal=form))
        if arima:
            pool.append(ARIMA())
        pool.append(MovingAverage(window))
        # Naive wins a three-window backtest on noisy weekly demand by luck far more often
        # than it forecasts well (its intervals then covered ~70%), so like Theta it is kept
        # for shorter seasons, where random-walk-like series are common.
        if season_length <= MAX_SEASON_LENGTH:
            pool.append(Naive())
        if season_length > 1:
            pool.append(SeasonalNaive(season_length))
    return [model for model in pool if model.fits_on(train)]


def non_seasonal_combination() -> Combination:
    """Mean of Theta, damped-trend ETS and random walk with drift, for non-seasonal series.

    Notes
    -----
    The three members extrapolate the level and trend in different ways (half the linear
    slope, a damped local trend, the average change) and their errors partly cancel. This is
    the rule for smooth and erratic series with ``season_length == 1``; it was chosen on the
    yearly series of M3 (645) and M1 (181), where it beat Theta, damped ETS and the per-series
    backtest choice; Tourism was the check (docs/forecasting.md has the figures and caveats).

    References
    ----------
    Makridakis, S., Spiliotis, E. & Assimakopoulos, V. (2020). The M4 competition: 100,000
    time series and 61 forecasting methods. *International Journal of Forecasting*, 36(1),
    54-74 (combinations of simple methods among the most accurate on yearly data).
    """
    return Combination([Theta(), ETS(trend=True), Drift()])


def seasonal_combination(season_length: int) -> Combination:
    """Mean of Theta, damped-trend Holt-Winters and seasonal naive, for seasons of 2 to 24.

    Parameters
    ----------
    season_length : int
        Periods per season, ``1 < season_length <= MAX_SEASON_LENGTH``.

    Notes
    -----
    :math:`\\hat y_{T+k} = \\tfrac13 (\\hat y^{\\Theta}_{T+k} + \\hat y^{\\mathrm{ETS}}_{T+k} +
    y_{T+k-m\\lceil k/m \\rceil})`: Theta on the classically deseasonalised series (when
    statsmodels' test finds a season), damped-trend ETS with a multiplicative (positive data) or
    additive season once two seasons are available
    (:class:`~forecasting.models.ets.DampedSeasonalETS`), and the last season repeated. The
    members differ in how they estimate the season (a fixed decomposition, a smoothed one, the
    last season itself) and the trend (half the linear slope, a damped local trend, none), so
    their errors partly cancel. This is the rule for smooth and erratic series with
    ``1 < season_length <= MAX_SEASON_LENGTH`` and no pooled seasonal profile. On
    non-negative data each member's forecast is clipped at 0 before the mean.

    It was chosen on the monthly and quarterly series of Tourism (366, 427) and M1 (617,
    203), where it beat statsmodels Theta and the per-series backtest choice on sMAPE in all
    four sets (on MASE in three: M1 quarterly is 1.8% behind Theta). On M3, held out and run
    once, it beat the backtest choice on sMAPE but was slightly behind Theta (monthly sMAPE
    14.05 against 13.97); docs/forecasting.md has the figures and caveats.

    References
    ----------
    Makridakis, S., Spiliotis, E. & Assimakopoulos, V. (2020). The M4 competition: 100,000
    time series and 61 forecasting methods. *International Journal of Forecasting*, 36(1),
    54-74 (combinations of simple methods among the most accurate on monthly and quarterly
    data).
    """
    return Combination(
        [Theta(season_length), DampedSeasonalETS(season_length), SeasonalNaive(season_length)],
        name="seasonal_combination",
        non_negative=True,
    )


def forecast_series(
    y: np.ndarray,
    *,
    horizon: int,
    season_length: int,
    level: float,
    arima: bool = False,
    censored: np.ndarray | None = None,
    factors: np.ndarray | None = None,
) -> SeriesForecast:
    """Classify, backtest the candidates, refit the winner and build its intervals.

    Parameters
    ----------
    y : numpy.ndarray
        One series on its regular grid, NaN where not observed.
    horizon, season_length, level, arima
        As in :func:`forecasting.forecast_with_diagnostics`.
    censored : numpy.ndarray of bool, optional
        True where ``y`` is a lower bound on demand (stock-out). None, or no True at an
        observed period: the series is handled exactly as without the argument.
    factors : numpy.ndarray, optional
        Seasonal factors of the series' periods then of the ``horizon`` coming ones
        (:func:`forecasting.seasonality.series_factors`). When given, the non-seasonal
        candidates run on the deseasonalised series and are reseasonalised
        (:func:`forecasting.seasonality.seasonal_variants`; seasonal naive still competes), and
        a series too short to backtest gets its recent mean level times the profile. None:
        exactly the path without seasonal profiles.

    Returns
    -------
    SeriesForecast

    Notes
    -----
    Choice rule, per series:

    1. ``zero`` (every observed value 0): forecast 0, interval [0, 0].
    2. No observation at all: forecast 0, model ``"none"``.
    3. ``short`` (fewer than 6 observed periods) or too short for a backtest: the mean of the
       latest half of the observed values, at least three (model ``"recent_mean"``,
       :class:`~forecasting.models.mean.RecentMean`); sigma is
       :math:`\\sqrt{(s^2 + \\bar v)(1 + 1/n)}`, :math:`s^2` the sample variance and
       :math:`\\bar v` the mean over the periods of :math:`\\operatorname{Var}(D \\mid y)`
       (0 without censored periods; or :math:`\\sqrt{y + \\bar v}` with a single point).
       Exception: a smooth or erratic series with ``season_length <= MAX_SEASON_LENGTH`` (and
       no pooled profile) too short to backtest gets :func:`non_seasonal_combination`
       (``season_length == 1``) or :func:`seasonal_combination` fitted on all of it, with the
       same sigma, when that fit succeeds.
    4. Otherwise every candidate of the class (:func:`candidates`) forecasts from three rolling
       origins; the winner has the lowest mean absolute error (smooth, erratic) or mean squared
       error (intermittent, lumpy: MAE rewards forecasting zero, MSE targets the mean demand
       that replenishment needs; Kourentzes 2014). The winner is refitted on the whole
       series. Its backtest errors give sigma, MASE, WAPE and bias. Smooth and erratic series
       with ``season_length == 1`` have one candidate, :func:`non_seasonal_combination`, and
       those with ``1 < season_length <= MAX_SEASON_LENGTH`` and no pooled profile one,
       :func:`seasonal_combination`, when it fits on the first training window; those with
       ``season_length > MAX_SEASON_LENGTH`` (weekly), a pooled profile and a season of
       history one, :class:`~forecasting.models.theta.ThetaSES` on the deseasonalised
       series. The one candidate is backtested for sigma and the scores only. Should it fail
       to backtest or to fit, the per-method candidates are backtested instead. Weekly seasons
       (``> MAX_SEASON_LENGTH``) and intermittent or lumpy series are never combined.

    With censored periods (:mod:`forecasting.censoring`), the class comes from
    :func:`~forecasting.censoring.classification_input`; every method is fitted on the
    unconstrained series (:func:`~forecasting.censoring.unconstrain`; in the backtest,
    :func:`~forecasting.censoring.unconstrain_before_origins`, so no training window sees
    its future); the backtest scores a censored actual by its expected loss given the data
    under the unconstraining model (:func:`forecasting.backtest.score`). ``n_obs`` counts
    censored periods as observed.
    """
    if censored is not None and not np.any(censored & ~np.isnan(y)):
        censored = None
    demand_class, adi, cv2 = classify_demand(
        y if censored is None else censoring.classification_input(y, censored)
    )
    observed = y[~np.isnan(y)]
    n_obs = len(observed)
    non_negative = bool(n_obs == 0 or observed.min() >= 0)
    count_data = bool(non_negative and np.all(observed == np.round(observed)))
    nan = float("nan")

    def result(mean: np.ndarray, model: str, sigma: float, scores=None, h_b: int = 1, spread=1.0):
        if non_negative:
            mean = np.maximum(mean, 0.0)
        lo, hi = interval(
            mean,
            sigma * spread,  # spread: per-step scale of a seasonally adjusted forecast's error
            level=level,
            backtest_horizon=h_b,
            count_data=count_data,
            non_negative=non_negative,
        )
        mase, wape, bias = (scores.mase, scores.wape, scores.bias) if scores else (nan, nan, nan)
        return SeriesForecast(
            mean, lo, hi, model, demand_class, sigma, mase, wape, bias, n_obs, adi, cv2
        )

    if n_obs == 0 or demand_class == "zero":
        return result(np.zeros(horizon), "none" if n_obs == 0 else "zero", 0.0)

    plan = backtest.backtest_plan(len(y), horizon, season_length)
    # Methods fit the series as demand: censored values unconstrained (train_y for the
    # backtest, fit_y for the final fit); held-out actuals stay the observed bounds.
    fit_y = train_y = y
    # What the data leave unknown about each period's demand: Var(D | y) of a censored period.
    imputed_variance = np.zeros(len(y))
    if censored is not None:
        # The profile shapes the level the censored periods are read against once the series
        # has a season of its own: a younger one is often a launch whose ramp-up the profile
        # would read as season (docs/forecasting.md, "Censored demand").
        level_factors = factors if len(y) >= season_length else None
        unconstrained = censoring.unconstrain(
            y, censored, season_length=season_length, factors=level_factors
        )
        fit_y = train_y = unconstrained.values
        imputed_variance = np.nan_to_num(unconstrained.variance)
        observed = fit_y[~np.isnan(fit_y)]
        if plan is not None:
            train_y = censoring.unconstrain_before_origins(
                y,
                censored,
                plan.origins,
                season_length=season_length,
                whole=unconstrained,
                factors=level_factors,
            )
    # A pooled seasonal profile replaces the series' own season estimate (seasonal_variants),
    # so such series keep the per-method candidates.
    combine = factors is None
    pool = (
        []
        if plan is None or demand_class == "short"
        else candidates(
            demand_class,
            train_y[: plan.origins[0]],
            season_length,
            arima=arima,
            combine=combine,
            # Theta's slope wants a whole season: over a shorter history it reads the launch
            # ramp (and what the profile leaves of the season) as trend.
            profiled=factors is not None and len(y) >= season_length,
        )
    )
    if not pool:
        if (
            plan is None
            and combine
            and season_length <= MAX_SEASON_LENGTH
            and demand_class in ("smooth", "erratic")
        ):
            # Too short to backtest, but a level-and-trend method still beats the mean on
            # short series (M1 yearly series of 9-10 points: MASE 4.7 vs 9.7; the five M1
            # quarterly series of 10 points: sMAPE 4.7 vs 17.5).
            combination = (
                non_seasonal_combination()
                if season_length == 1
                else seasonal_combination(season_length)
            )
            mean = _fit_or_none(combination, fit_y, horizon)
            if mean is not None:
                spread = _fallback_sigma(observed, _mean_observed(imputed_variance, y))
                return result(mean, combination.name, spread)
        if factors is not None:  # the level of the deseasonalised series times the profile
            seasonal_mean = SeasonallyAdjusted(RecentMean(), factors).fit(fit_y)
            future = factors[len(y) : len(y) + horizon]
            rms = float(np.sqrt(np.mean(future**2)))
            adjusted_variance = imputed_variance / factors[: len(y)] ** 2
            sigma = (
                _fallback_sigma(
                    adjusted_observed(fit_y, factors), _mean_observed(adjusted_variance, y)
                )
                * rms
            )
            return result(
                seasonal_mean.predict(horizon), seasonal_mean.name, sigma, spread=future / rms
            )
        young = RecentMean()
        spread = _fallback_sigma(observed, _mean_observed(imputed_variance, y))
        return result(young.forecast(fit_y, horizon), young.name, spread)

    # A rule with one method (a fixed combination, Theta on weekly profiled demand) is
    # backtested for sigma and the scores; should it fail, the per-method candidates compete.
    one_rule = isinstance(pool[0], (Combination, ThetaSES))
    if factors is not None:
        pool = seasonal_variants(pool, factors)
    held_out = backtest.actuals(y, plan)
    scale = backtest.mase_scale(train_y[: plan.origins[0]], season_length)
    bounds = {}
    if censored is not None:
        bounds = {
            "censored": backtest.actuals(censored, plan),
            "demand_mean": backtest.actuals(unconstrained.values, plan),
            "demand_variance": backtest.actuals(unconstrained.variance, plan),
        }
    use_mse = demand_class in INTERMITTENT_CLASSES

    def choose(pool: list[Model]) -> SeriesForecast | None:
        ranked = []
        for rank, model in enumerate(pool):
            try:
                predictions = model.backtest(train_y, plan.origins, plan.horizon)
            except (ValueError, np.linalg.LinAlgError):
                continue  # a method that cannot fit this series is simply not a candidate
            if not np.all(np.isfinite(predictions)):
                continue
            if non_negative:
                predictions = np.maximum(predictions, 0.0)
            scores = backtest.score(predictions, held_out, scale, **bounds)
            loss = scores.mse if use_mse else scores.mae
            ranked.append((loss if np.isfinite(loss) else np.inf, rank, model, scores))
        ranked.sort(key=lambda item: (item[0], item[1]))
        for _, _, model, scores in ranked:
            try:
                mean = model.fit(fit_y).predict(horizon)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(mean)):
                sigma = scores.sigma if np.isfinite(scores.sigma) else _fallback_sigma(observed)
                spread = 1.0
                if isinstance(model, SeasonallyAdjusted):
                    spread = model.error_scale(y, plan.origins, plan.horizon, horizon)
                return result(mean, model.name, sigma, scores, plan.horizon, spread)
        return None

    chosen = choose(pool)
    if chosen is None and one_rule:
        # The one rule (a combination, Theta) failed on this series: the per-method candidates.
        train = train_y[: plan.origins[0]]
        chosen = choose(candidates(demand_class, train, season_length, arima=arima, combine=False))
    if chosen is not None:
        return chosen
    return result(Mean().forecast(fit_y, horizon), "mean", _fallback_sigma(observed))


def _fit_or_none(model: Model, y: np.ndarray, horizon: int) -> np.ndarray | None:
    try:
        mean = model.fit(y).predict(horizon)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return mean if np.all(np.isfinite(mean)) else None


def _fallback_sigma(observed: np.ndarray, imputed_variance: float = 0.0) -> float:
    """Spread for a forecast with no backtest: sample sd of the data, or Poisson for one point.

    ``imputed_variance`` is the mean over the observed periods of ``Var(D | y)`` (0 where the
    demand was seen): censored periods enter the data at their expected demand, which spreads
    less than demand does, so the demand variance is the completed values' variance plus it
    (the within-imputation part of Rubin's rules).
    """
    if len(observed) >= 2:
        variance = float(np.var(observed, ddof=1)) + imputed_variance
        return float(np.sqrt(variance * (1.0 + 1.0 / len(observed))))
    return float(np.sqrt(abs(observed[0]) + imputed_variance))


def _mean_observed(values: np.ndarray, y: np.ndarray) -> float:
    seen = ~np.isnan(y)
    return float(np.mean(values[seen])) if seen.any() else 0.0
