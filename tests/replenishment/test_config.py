"""Policy configuration: defaults, overrides and one-line errors naming file and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from replenishment.config import (
    POLICY_MAX_BYTES,
    ConfigError,
    PolicyConfig,
    UnsafeFileError,
    load_policy_config,
    read_regular_file,
)


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


# --------------------------------------------------------------------------------------------
# Issue 14, item 11: no anchors, aliases or merge keys (a 430-byte merge-key bomb)
# --------------------------------------------------------------------------------------------


def merge_key_bomb(levels: int = 7) -> str:
    """Seven levels, 430 bytes: each level merges eight copies of the one before."""
    lines = ["l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6}"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * 8)
        lines.append(f"l{level}: &l{level} {{<<: [{refs}]}}")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(30)
def test_a_merge_key_bomb_is_refused_at_once(tmp_path):
    text = merge_key_bomb()
    assert len(text.encode()) == 430
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:  # refused while composing, before any expansion
        load_policy_config(path)
    assert str(caught.value) == (
        f"{path}: not valid YAML at line 1: anchors (&name) are not allowed in a policy file"
    )


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "service_levels: &levels {A: 0.99}\n",
            1,
            "anchors (&name) are not allowed",
        ),
        (
            # An alias to an anchor the loader never saw is refused as an alias.
            "service_levels: {A: 0.99}\nalerts:\n  overstock: *missing\n",
            3,
            "aliases (*name) are not allowed",
        ),
        (
            "service_levels:\n  <<: {A: 0.99}\n  B: 0.9\n",
            2,
            "merge keys (<<) are not allowed",
        ),
    ],
)
def test_anchors_aliases_and_merge_keys_are_refused(tmp_path, text, line, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML at line {line}: ")
    assert problem in message and "\n" not in message


# --------------------------------------------------------------------------------------------
# Issue 14, item 8: a policy file is a small regular file
# --------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: os.mkfifo(path), "not a regular file (a FIFO)"),
        (lambda path: path.symlink_to("/dev/zero"), "symbolic link to a file outside its folder"),
        (lambda path: path.symlink_to("/etc/passwd"), "symbolic link to a file outside its folder"),
        (lambda path: path.mkdir(), "not a regular file (a folder)"),
        (
            lambda path: path.write_bytes(b"# " + b"x" * POLICY_MAX_BYTES + b"\n"),
            "file too large",
        ),
    ],
    ids=["fifo", "dev-zero", "etc-passwd", "folder", "too-large"],
)
def test_policy_file_must_be_a_small_regular_file(tmp_path, make, reason):
    path = tmp_path / "policy.yml"
    make(path)
    with pytest.raises(ConfigError) as caught:  # the timeout marker turns a hang into a failure
        load_policy_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read policy file (")
    assert reason in message and "\n" not in message and "root:x" not in message


def test_a_policy_symlink_within_its_folder_is_read(tmp_path):
    (tmp_path / "policies").mkdir()
    real = tmp_path / "policies" / "north.yml"
    real.write_text("service_levels: {A: 0.99}\n", encoding="utf-8")
    link = tmp_path / "policy.yml"
    link.symlink_to(real)
    assert load_policy_config(link).service_levels.A == 0.99


def test_read_regular_file_stops_at_the_limit(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"12345")
    assert read_regular_file(path, max_bytes=5) == b"12345"
    with pytest.raises(UnsafeFileError, match="file too large"):
        read_regular_file(path, max_bytes=4)
