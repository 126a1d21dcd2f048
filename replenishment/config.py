"""Policy configuration: service levels, freshness and alert thresholds, read from YAML.

The defaults ship in `replenishment/policy.yml`; a user passes their own file with the same
keys. Every model forbids unknown keys so that a typo (``stockuot:``) fails loudly instead of
silently keeping the default.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yml")
POLICY_MAX_BYTES = 1_000_000  # the shipped policy.yml is about 2 KB

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


class PartialRestatementAlert(_Alert):
    severity: Severity = "info"


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


class DealerEscalationAlert(_Alert):
    critical_states: list[Literal["ok", "warning", "improvement_plan", "exit_review"]] = [
        "exit_review"
    ]


class Alerts(_Strict):
    stockout: StockoutAlert = StockoutAlert()
    stockout_risk: StockoutRiskAlert = StockoutRiskAlert()
    below_safety_stock: BelowSafetyStockAlert = BelowSafetyStockAlert()
    overstock: OverstockAlert = OverstockAlert()
    slow_moving: SlowMovingAlert = SlowMovingAlert()
    dead_stock: DeadStockAlert = DeadStockAlert()
    stale_feed: StaleFeedAlert = StaleFeedAlert()
    feed_rejected: FeedRejectedAlert = FeedRejectedAlert()
    partial_restatement: PartialRestatementAlert = PartialRestatementAlert()
    cross_territory_sale: CrossTerritoryAlert = CrossTerritoryAlert()
    price_deviation: PriceDeviationAlert = PriceDeviationAlert()
    forecast_bias: ForecastBiasAlert = ForecastBiasAlert()
    dealer_escalation: DealerEscalationAlert = DealerEscalationAlert()


class Transfers(_Strict):
    enabled: bool = True
    min_qty: Annotated[float, Field(ge=0)] = 1


Share = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
# A tier name: what dealers.csv `tier` may hold (at most 40 characters, no quotes or spaces).
TierName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,39}$")]


class TierBenchmarks(_Strict):
    """The scorecard's benchmark per KPI (fct_dealer_scorecard_quarterly). The defaults are
    dbt_project.yml's scorecard_benchmarks (the silver tier of the shipped policy)."""

    sell_through_rate: Share = 0.85
    inventory_turnover: NonNegative = 4.5  # per quarter (4.5 = 18 turns a year)
    stockout_share: Share = 0.03
    slow_mover_share: Share = 0.05
    count_coverage: Share = 0.9
    # Added later: optional, so older policy files load with these defaults.
    days_of_inventory: NonNegative = 16.0  # average stock at cost / cost of goods sold per day
    cross_territory_share: Share = 0.02
    price_breach_share: Share = 0.05
    feed_timeliness: Share = 0.9
    forecast_wape: NonNegative = 0.6


class RebateStep(_Strict):
    """A rebate rate earned when every condition holds (the highest such step counts)."""

    rate: Annotated[float, Field(ge=0, le=0.5)]
    min_turnover: NonNegative = 0.0
    max_slow_mover_share: Share = 1.0
    min_sales_value: NonNegative = 0.0  # the quarter's sales at unit cost


class CreditRule(_Strict):
    """credit_limit = min(max_limit, (base_limit + sales_value_share x the quarter's sales
    value) x (1 - cut) ** breaches), a breach being turnover < min_turnover or slow-mover
    share > max_slow_mover_share."""

    base_limit: NonNegative = 10_000
    sales_value_share: NonNegative = 0.5
    max_limit: NonNegative | None = None
    min_turnover: NonNegative = 1.0
    max_slow_mover_share: Share = 0.2
    cut: Share = 0.25


class EscalationRule(_Strict):
    """A quarter is below benchmark when its score is under `min_score`; consecutive quarters
    below reach each state."""

    min_score: Share = 0.6
    warning_quarters: Annotated[int, Field(ge=1)] = 2
    improvement_plan_quarters: Annotated[int, Field(ge=1)] = 3
    exit_review_quarters: Annotated[int, Field(ge=1)] = 4

    @model_validator(mode="after")
    def _ordered(self) -> EscalationRule:
        if not (
            self.warning_quarters <= self.improvement_plan_quarters <= self.exit_review_quarters
        ):
            raise ValueError(
                "warning_quarters <= improvement_plan_quarters <= exit_review_quarters must hold"
            )
        return self


class Tier(_Strict):
    """One dealer tier: its rank (1 = lowest), benchmarks, rebate steps, credit, escalation."""

    rank: Annotated[int, Field(ge=1)]
    benchmarks: TierBenchmarks = TierBenchmarks()
    rebate_steps: list[RebateStep] = []
    credit: CreditRule = CreditRule()
    escalation: EscalationRule = EscalationRule()


def _default_tiers() -> dict[str, Tier]:
    """The tiers of the shipped policy.yml (used when a policy file has no `tiers`)."""
    return {
        "bronze": Tier(
            rank=1,
            benchmarks=TierBenchmarks(
                sell_through_rate=0.8, inventory_turnover=4.0, stockout_share=0.05,
                slow_mover_share=0.1, count_coverage=0.8, days_of_inventory=20,
                cross_territory_share=0.05, price_breach_share=0.1, feed_timeliness=0.8,
                forecast_wape=0.8,
            ),
            rebate_steps=[RebateStep(rate=0.01, min_turnover=4.0, max_slow_mover_share=0.1)],
            credit=CreditRule(
                base_limit=5_000, sales_value_share=0.25, min_turnover=4.0,
                max_slow_mover_share=0.1, cut=0.25,
            ),
        ),
        "silver": Tier(
            rank=2,
            rebate_steps=[
                RebateStep(rate=0.01),
                RebateStep(rate=0.02, min_turnover=6.0, max_slow_mover_share=0.05),
            ],
            credit=CreditRule(min_turnover=4.5, max_slow_mover_share=0.05),
        ),
        "gold": Tier(
            rank=3,
            benchmarks=TierBenchmarks(
                sell_through_rate=0.9, inventory_turnover=9.0, stockout_share=0.02,
                slow_mover_share=0.01, count_coverage=0.95, days_of_inventory=9,
                cross_territory_share=0.01, price_breach_share=0.02, feed_timeliness=0.95,
                forecast_wape=0.45,
            ),
            rebate_steps=[
                RebateStep(rate=0.02),
                RebateStep(rate=0.03, min_turnover=9.0, max_slow_mover_share=0.02),
                RebateStep(
                    rate=0.04, min_turnover=11.0, max_slow_mover_share=0.01,
                    min_sales_value=50_000,
                ),
            ],
            credit=CreditRule(
                base_limit=25_000, sales_value_share=0.75, min_turnover=9.0,
                max_slow_mover_share=0.02, cut=0.25,
            ),
            escalation=EscalationRule(min_score=0.7),
        ),
    }  # fmt: skip


class Freight(_Strict):
    """Freight cost per unit between two dealers' regions: `lanes[from][to]` (either
    direction), else `same_region` or `other_region`."""

    same_region: NonNegative = 0.5
    other_region: NonNegative = 2.0
    lanes: dict[str, dict[str, NonNegative]] = {}

    def per_unit(self, from_region: object, to_region: object) -> float:
        a, b = str(from_region), str(to_region)
        for x, y in ((a, b), (b, a)):
            if y in self.lanes.get(x, {}):
                return float(self.lanes[x][y])
        return float(self.same_region if a == b else self.other_region)


class ExcessActions(_Strict):
    """Remedies for excess stock (replenishment/actions.py): transfer, markdown, return."""

    enabled: bool = True
    freight_per_unit: Freight = Freight()
    markdown_discount: Annotated[float, Field(gt=0, lt=1)] = 0.2  # share of unit cost
    markdown_demand_uplift: Annotated[float, Field(ge=1)] = 1.5  # demand x this while marked down
    markdown_max_days: PositiveDays = 90  # a markdown slower to clear is not a candidate
    return_handling_per_unit: NonNegative = 1.5
    return_restocking_share: Share = 0.15  # share of unit cost charged on a return


class Allocation(_Strict):
    """Allocation under shortage (replenishment/allocation.py): a SKU capped by supply.csv is
    shared by weight = tier weight (a tier not listed weighs 1) x (1 + risk_weight x shortfall)."""

    tier_weights: dict[str, Annotated[float, Field(gt=0)]] = {
        "bronze": 1.0,
        "silver": 1.25,
        "gold": 1.5,
    }
    risk_weight: NonNegative = 1.0


class ChannelConflict(_Strict):
    """Cross-territory sales (fct_dealer_channel_conflict, fct_daily_demand; dbt vars)."""

    # The seller's demand excludes its leaked sales and the territory owner's includes them.
    reattribute_leaked_sales: bool = True
    min_monthly_share: Share = 0.02  # a month at or above this share of units sold counts
    repeat_months: Annotated[int, Field(ge=1)] = 2  # such months in the window: repeat offender
    window_months: Annotated[int, Field(ge=1)] = 3

    def dbt_vars(self) -> dict[str, Any]:
        """The dbt vars of dbt_project.yml these settings set (the nightly passes them)."""
        return {
            "channel_reattribute_leaked_sales": self.reattribute_leaked_sales,
            "channel_min_monthly_share": self.min_monthly_share,
            "channel_repeat_months": self.repeat_months,
            "channel_window_months": self.window_months,
        }


class PolicyConfig(_Strict):
    """Everything the replenishment policy, the alerts and the transfers read."""

    service_levels: ServiceLevels = ServiceLevels()
    default_review_period_days: PositiveDays = 7
    # What a customer does when the dealer is out: "lost" (buys elsewhere; the order leaves out
    # lead-time demand beyond the stock on hand and in transit, `replenishment.lost_sales`) or
    # "backordered" (waits; DESIGN.md's need, order-up-to minus position).
    unmet_demand: Literal["lost", "backordered"] = "lost"
    slow_demand: SlowDemand = SlowDemand()
    freshness: Freshness = Freshness()
    alerts: Alerts = Alerts()
    transfers: Transfers = Transfers()
    # Dealer tiers (a dealer's tier is dealers.csv `tier`; empty -> default_tier).
    default_tier: TierName = "silver"
    tiers: dict[TierName, Tier] = Field(default_factory=_default_tiers)
    excess_actions: ExcessActions = ExcessActions()
    allocation: Allocation = Allocation()
    channel_conflict: ChannelConflict = ChannelConflict()

    @model_validator(mode="after")
    def _default_tier_exists(self) -> PolicyConfig:
        if not self.tiers:
            raise ValueError("tiers: at least one tier is needed")
        if self.default_tier not in self.tiers:
            raise ValueError(
                f"default_tier: {self.default_tier!r} is not one of the tiers "
                f"({', '.join(self.tiers)})"
            )
        ranks = [tier.rank for tier in self.tiers.values()]
        if len(set(ranks)) != len(ranks):
            raise ValueError("tiers: each tier needs its own rank")
        return self

    def freshness_threshold(self, dealer_id: str, feed: str) -> float:
        """Days after which `feed` of `dealer_id` is stale (per-dealer override, else default)."""
        return self.freshness.threshold_days(dealer_id, feed)


class UnsafeFileError(ValueError):
    """A file that must not be read: not a regular file, a symlink out of its folder, too big.

    The message is the reason only (no file content), for the caller to put after the path.
    """


def read_regular_file(path: Path | str, *, max_bytes: int) -> bytes:
    """The bytes of a user-named input file, refusing anything but a small regular file.

    Parameters
    ----------
    path
        The file. A symbolic link is followed only when it stays in the folder holding it.
    max_bytes
        The largest size accepted.

    Returns
    -------
    bytes

    Raises
    ------
    UnsafeFileError
        A FIFO, device, socket or folder (checked on the opened file, so nothing blocks and
        nothing is swapped in between), a symbolic link to a file outside the link's folder,
        or a file over ``max_bytes`` (checked before reading, and again while reading).
    OSError
        The file cannot be opened (missing, no permission).
    """
    path = Path(path)
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(path.parent.resolve()):
            raise UnsafeFileError("a symbolic link to a file outside its folder (not followed)")
        path = target
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if getattr(os, "O_NOFOLLOW", 0) and exc.errno == getattr(os, "ELOOP", None):
            raise UnsafeFileError("a symbolic link changed while it was read") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise UnsafeFileError(f"file too large ({info.st_size:,} bytes; limit {max_bytes:,})")
        chunks, size = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise UnsafeFileError(f"file too large (over {max_bytes:,} bytes)")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return kind
    return "not a plain file"


class _PolicyLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors, aliases and merge keys.

    A policy file never needs them, and nested aliases or merge keys expand exponentially
    (a 430-byte "billion laughs" takes minutes and gigabytes): refused at the first ``&``,
    ``*`` or ``<<``, before anything is expanded.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a policy file", event.start_mark
            )
        if getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors (&name) are not allowed in a policy file", event.start_mark
            )
        return super().compose_node(parent, index)

    def flatten_mapping(self, node: Any) -> None:
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not allowed in a policy file",
                    key_node.start_mark,
                )  # fmt: skip
        super().flatten_mapping(node)


def load_policy_config(path: Path | str | None = None) -> PolicyConfig:
    """Read and validate a policy file.

    Parameters
    ----------
    path
        YAML file; None reads the default shipped with the package (`replenishment/policy.yml`).
        Keys left out keep their defaults. It must be a regular file of at most
        `POLICY_MAX_BYTES` (a symbolic link only within its folder), in plain YAML: anchors,
        aliases and merge keys are refused.

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
        raw = read_regular_file(path, max_bytes=POLICY_MAX_BYTES)
    except UnsafeFileError as exc:
        raise ConfigError(f"{path}: cannot read policy file ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read policy file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read policy file (not UTF-8 text)") from None
    try:
        data = yaml.load(text, Loader=_PolicyLoader)  # noqa: S506 - a SafeLoader subclass
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
        problem = first["msg"].replace("Input should be", "must be").removeprefix("Value error, ")
        value = first.get("input")
        if isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 40:
            problem += f" (got {value!r})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    if not first["loc"] and first["type"] == "value_error":  # a whole-file rule names its keys
        return f"{path}: {problem}" + (more if len(errors) > 1 else "")
    return f"{path}: {key}: {problem}" + (more if len(errors) > 1 else "")
