"""Policy configuration: defaults, overrides and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from replenishment.config import ConfigError, PolicyConfig, load_policy_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_defaults_match_the_documented_values():
    config = load_policy_config(None)
    assert (config.service_levels.A, config.service_levels.B, config.service_levels.C) == (
        0.98,
        0.95,
        0.90,
    )
    assert config.freshness.sell_through_days == 3
    assert config.freshness.inventory_days == 7
    assert config.alerts.price_deviation.max_abs_deviation == pytest.approx(0.30)
    assert config.alerts.forecast_bias.max_abs_bias == pytest.approx(0.30)
    assert config.alerts.stockout.severity == "critical"
    # The shipped file and the model defaults agree, so a partial user file behaves the same.
    assert config == PolicyConfig()


def test_user_file_overrides_only_what_it_names(tmp_path):
    path = write(
        tmp_path,
        "service_levels: {A: 0.99}\n"
        "freshness:\n  dealers:\n    D007: {sell_through_days: 10}\n"
        "alerts:\n  overstock: {severity: info}\n",
    )
    config = load_policy_config(path)
    assert config.service_levels.A == 0.99
    assert config.service_levels.B == 0.95
    assert config.alerts.overstock.severity == "info"
    assert config.alerts.overstock.excess_weeks_of_demand == 8
    assert config.freshness_threshold("D007", "sell_through") == 10
    assert config.freshness_threshold("D007", "inventory") == 7
    assert config.freshness_threshold("D001", "sell_through") == 3
    assert config.freshness_threshold("D001", "shipments") == float("inf")


def test_service_level_by_class_falls_back_to_unclassified():
    levels = load_policy_config().service_levels
    assert levels.for_class("a") == 0.98
    assert levels.for_class(" C ") == 0.90
    assert levels.for_class(None) == levels.unclassified
    assert levels.for_class("Z") == levels.unclassified


def test_empty_file_gives_the_defaults(tmp_path):
    assert load_policy_config(write(tmp_path, "")) == PolicyConfig()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("service_levels: {A: 1.2}", "service_levels.A", "less than 0.9999"),
        ("service_levels: {B: 0.5}", "service_levels.B", "greater than 0.5"),
        ("alerts: {stockuot: {severity: critical}}", "alerts.stockuot", "unknown key"),
        ("colour: blue", "colour", "unknown key"),
        (
            "alerts: {overstock: {max_days_of_cover: -3}}",
            "alerts.overstock.max_days_of_cover",
            "greater than 0",
        ),
        (
            "freshness: {dealers: {D1: {inventory_days: 0}}}",
            "freshness.dealers.D1.inventory_days",
            "greater than 0",
        ),
        ("default_review_period_days: 0", "default_review_period_days", "greater than 0"),
        ("alerts: {stockout: {severity: urgent}}", "alerts.stockout.severity", "'critical'"),
    ],
)
def test_bad_values_give_one_line_naming_file_and_key(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: ")
    assert problem in message


def test_several_problems_are_counted_on_the_same_line(tmp_path):
    path = write(tmp_path, "service_levels: {A: 2, B: 3}\nfoo: 1\n")
    with pytest.raises(ConfigError, match=r"and 2 more problems") as caught:
        load_policy_config(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("a: [1", "not valid YAML at line"), ("- 1\n- 2\n", "top level must be a mapping")],
)
def test_unreadable_yaml_is_a_config_error(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_policy_config(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path):
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match="cannot read policy file") as caught:
        load_policy_config(missing)
    assert str(caught.value).startswith(str(missing))
