"""The `vmi` command line: usage errors are one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

VMI = [sys.executable, "-m", "flows.cli"]


def vmi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VMI, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_usage_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_help_lists_every_design_command():
    result = vmi("--help")
    assert result.returncode == 0
    for command in ("generate", "run", "simulate", "approve", "report"):
        assert command in result.stdout


def test_run_with_missing_landing_is_a_usage_error(tmp_path):
    result = vmi(
        "run", "--landing", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")
    )
    assert_usage_error(result, "--landing", "not a folder")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w.duckdb").exists()


def test_run_with_bad_as_of_is_a_usage_error(small_landing, tmp_path):
    result = vmi(
        "run",
        "--landing",
        str(small_landing),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        "--as-of",
        "2026-13-45",
    )
    assert_usage_error(result, "--as-of", "2026-13-45")


def test_run_with_bad_policy_config_is_a_usage_error(small_landing, tmp_path):
    config = tmp_path / "policy.yml"
    config.write_text("service_levels:\n  A: 1.7\n")
    result = vmi(
        "run",
        "--landing",
        str(small_landing),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        "--config",
        str(config),
    )
    assert_usage_error(result, "policy.yml")
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_option_is_exit_2():
    result = vmi("run", "--no-such-option")
    assert result.returncode == 2


def test_report_without_runs_is_a_usage_error(tmp_path):
    assert_usage_error(vmi("report", "--out", str(tmp_path)), "no published runs")


@pytest.mark.parametrize("seed", [3])
def test_generate_writes_a_landing_folder(tmp_path, seed):
    out = tmp_path / "landing"
    result = vmi(
        "generate",
        "--out",
        str(out),
        "--dealers",
        "3",
        "--skus",
        "5",
        "--days",
        "60",
        "--seed",
        str(seed),
    )
    assert result.returncode == 0, result.stderr
    assert (out / "master" / "dealers.csv").is_file()
    assert any((out / "sell_through").iterdir())


def test_simulate_writes_design_json(tmp_path):
    import json

    target = tmp_path / "sim.json"
    result = vmi(
        "simulate",
        "--weeks",
        "8",
        "--dealers",
        "2",
        "--skus",
        "6",
        "--seed",
        "3",
        "--json",
        str(target),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(target.read_text())
    assert set(data) == {
        "target_service_level", "weeks", "seed", "series", "policy", "baseline", "forecaster",
        "baseline_z",
    }  # fmt: skip
    for side in ("policy", "baseline"):
        assert set(data[side]) >= {
            "fill_rate",
            "cycle_service_level",
            "avg_on_hand_units",
            "avg_on_hand_value",
            "stockout_days",
        }
        assert 0.0 <= data[side]["fill_rate"] <= 1.0
    assert data["weeks"] == 8 and data["seed"] == 3
    assert "bullwhip (shipments / sell-through variance): policy" in result.stdout


def test_simulate_rejects_an_impossible_service_level(tmp_path):
    result = vmi("simulate", "--service-level", "1.5", "--json", str(tmp_path / "x.json"))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_approve_from_the_command_line(tmp_path):
    import pandas as pd
    from test_report import make_run_folder

    run_dir = make_run_folder(tmp_path / "out", "2025-06-30")
    lines = pd.read_csv(run_dir / "suggestions.csv")
    first = lines.iloc[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"dealer_id,sku,qty,note\n{first.dealer_id},{first.sku},-3,oops\n")
    result = vmi(
        "approve", "--out", str(tmp_path / "out"), "--as-of", "2025-06-30", "--overrides", str(bad)
    )
    assert_usage_error(result, "bad.csv", "line 2", "qty")
    assert not (run_dir / "orders").exists()

    good = tmp_path / "good.csv"
    good.write_text(f"dealer_id,sku,hold,note\n{first.dealer_id},{first.sku},true,promo ends\n")
    result = vmi(
        "approve",
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        "2025-06-30",
        "--overrides",
        str(good),
        "--approved-by",
        "ana",
    )
    assert result.returncode == 0, result.stderr
    assert "by ana" in result.stdout
    assert any((run_dir / "orders").glob("*.csv"))
    assert any((run_dir / "exports").glob("*.xlsx"))


def test_an_unmounted_landing_share_fails_the_run_not_the_usage(tmp_path):
    """A dangling landing link is a transient fault: the run starts, retries and exits 1."""
    from flows.settings import RunSettings

    share = tmp_path / "landing"
    share.symlink_to(tmp_path / "not-mounted")
    settings = RunSettings.from_args(share, tmp_path / "w.duckdb")
    settings.check()  # no SettingsError: the ingest task raises OSError and retries
    assert settings.landing == share
