"""Policy configuration: service levels, freshness and alert thresholds, read from YAML.

The defaults ship in `replenishment/policy.yml`; a user passes their own file with the same
keys. Every model forbids unknown keys so that a typo (``stockuot:``) fails loudly instead of
silently keeping the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yml")

Severity = Literal["critical", "warning", "info"]
ServiceLevel = Annotated[float, Field(gt=0.5, lt=0.9999)]
PositiveDays = Annotated[float, Field(gt=0)]


class ConfigError(ValueError):
    """A policy file that cannot be used; the message is one line naming file, key and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceLevels(_Strict):
    A: ServiceLevel = 0.98
    B: ServiceLevel = 0.95
    C: ServiceLevel = 0.90
    unclassified: ServiceLevel = 0.95

    def for_class(self, abc_class: object) -> float:
        """Target service level for an ABC class; anything else is `unclassified`."""
        key = str(abc_class).strip().upper() if isinstance(abc_class, str) else ""
        return float(getattr(self, key)) if key in {"A", "B", "C"} else float(self.unclassified)


class SlowDemand(_Strict):
    intermittent_classes: list[str] = ["intermittent", "lumpy"]
    max_units_over_protection: Annotated[float, Field(ge=0)] = 10.0
    overdispersion_ratio: Annotated[float, Field(ge=1.0)] = 1.2


class DealerFreshness(_Strict):
    sell_through_days: PositiveDays | None = None
    inventory_days: PositiveDays | None = None


class Freshness(_Strict):
    sell_through_days: PositiveDays = 3
    inventory_days: PositiveDays = 7
    dealers: dict[str, DealerFreshness] = {}

    def threshold_days(self, dealer_id: str, feed: str) -> float:
        """Days after which `feed` of `dealer_id` is stale; infinity for feeds without one."""
        field = f"{str(feed).strip().lower().replace('-', '_').replace(' ', '_')}_days"
        if field not in Freshness.model_fields:
            return float("inf")
        override = self.dealers.get(str(dealer_id))
        value = getattr(override, field) if override is not None else None
        return float(value if value is not None else getattr(self, field))


class _Alert(_Strict):
    enabled: bool = True
    severity: Severity = "warning"


class StockoutAlert(_Alert):
    severity: Severity = "critical"


class StockoutRiskAlert(_Alert):
    critical_cover_share: Annotated[float, Field(ge=0, le=1)] = 0.5


class BelowSafetyStockAlert(_Alert):
    pass


class OverstockAlert(_Alert):
    excess_weeks_of_demand: PositiveDays = 8
    max_days_of_cover: PositiveDays = 180


class SlowMovingAlert(_Alert):
    severity: Severity = "info"
    no_sale_days: PositiveDays = 60


class DeadStockAlert(_Alert):
    no_sale_days: PositiveDays = 180


class StaleFeedAlert(_Alert):
    critical_factor: Annotated[float, Field(ge=1)] = 3.0


class FeedRejectedAlert(_Alert):
    severity: Severity = "critical"


class CrossTerritoryAlert(_Alert):
    severity: Severity = "info"
    lookback_days: PositiveDays = 28
    min_units: Annotated[float, Field(ge=0)] = 1


class PriceDeviationAlert(_Alert):
    lookback_days: PositiveDays = 28
    max_abs_deviation: Annotated[float, Field(gt=0)] = 0.30


class ForecastBiasAlert(_Alert):
    max_abs_bias: Annotated[float, Field(gt=0)] = 0.30
    min_observations: Annotated[int, Field(ge=1)] = 8


class Alerts(_Strict):
    stockout: StockoutAlert = StockoutAlert()
    stockout_risk: StockoutRiskAlert = StockoutRiskAlert()
    below_safety_stock: BelowSafetyStockAlert = BelowSafetyStockAlert()
    overstock: OverstockAlert = OverstockAlert()
    slow_moving: SlowMovingAlert = SlowMovingAlert()
    dead_stock: DeadStockAlert = DeadStockAlert()
    stale_feed: StaleFeedAlert = StaleFeedAlert()
    feed_rejected: FeedRejectedAlert = FeedRejectedAlert()
    cross_territory_sale: CrossTerritoryAlert = CrossTerritoryAlert()
    price_deviation: PriceDeviationAlert = PriceDeviationAlert()
    forecast_bias: ForecastBiasAlert = ForecastBiasAlert()


class Transfers(_Strict):
    enabled: bool = True
    min_qty: Annotated[float, Field(ge=0)] = 1


class PolicyConfig(_Strict):
    """Everything the replenishment policy, the alerts and the transfers read."""

    service_levels: ServiceLevels = ServiceLevels()
    default_review_period_days: PositiveDays = 7
    slow_demand: SlowDemand = SlowDemand()
    freshness: Freshness = Freshness()
    alerts: Alerts = Alerts()
    transfers: Transfers = Transfers()

    def freshness_threshold(self, dealer_id: str, feed: str) -> float:
        """Days after which `feed` of `dealer_id` is stale (per-dealer override, else default)."""
        return self.freshness.threshold_days(dealer_id, feed)


def load_policy_config(path: Path | str | None = None) -> PolicyConfig:
    """Read and validate a policy file.

    Parameters
    ----------
    path
        YAML file; None reads the default shipped with the package (`replenishment/policy.yml`).
        Keys left out keep their defaults.

    Returns
    -------
    PolicyConfig

    Raises
    ------
    ConfigError
        One line naming the file, the key path (``alerts.overstock.max_days_of_cover``) and the
        problem, ready for the CLI to print before exiting with status 2.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read policy file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(path, exc)) from None


def _one_line(path: Path, exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        problem = "unknown key"
    else:
        # pydantic says "Input should be ..."; name the key instead, it reads better on a CLI.
        problem = first["msg"].replace("Input should be", "must be")
        value = first.get("input")
        if isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 40:
            problem += f" (got {value!r})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return f"{path}: {key}: {problem}" + (more if len(errors) > 1 else "")
