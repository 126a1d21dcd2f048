"""Run paths from parameters, then vmi.toml / vmi.yaml (or VMI_CONFIG), then VMI_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.settings import RunSettings
from planner import config_file
from planner.config_file import SettingsError, load_config, run_paths


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory with no VMI_* variable set."""
    for name in ("VMI_CONFIG", "VMI_LANDING", "VMI_WAREHOUSE_FILE", "VMI_OUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_parameters_beat_the_config_file_which_beats_the_environment(project, monkeypatch):
    (project / "vmi.toml").write_text('landing = "feeds"\nwarehouse = "/srv/wh.duckdb"\n')
    monkeypatch.setenv("VMI_WAREHOUSE_FILE", "/env/wh.duckdb")
    monkeypatch.setenv("VMI_OUT", "/env/out")
    landing, warehouse, out = run_paths(None, None, None)
    assert landing == project / "feeds"  # relative to the file's folder
    assert warehouse == Path("/srv/wh.duckdb")
    assert out == Path("/env/out")  # the file has none: the variable
    assert run_paths("/p/landing", "/p/wh.duckdb", "/p/out") == (
        Path("/p/landing"),
        Path("/p/wh.duckdb"),
        Path("/p/out"),
    )


def test_vmi_config_names_a_yaml_file_elsewhere(project, monkeypatch):
    elsewhere = project / "etc"
    elsewhere.mkdir()
    (elsewhere / "vmi.yaml").write_text("landing: /srv/landing\nout: out\n")
    (project / "vmi.toml").write_text('landing = "ignored"\n')
    monkeypatch.setenv("VMI_CONFIG", str(elsewhere / "vmi.yaml"))
    assert run_paths(None, "wh.duckdb", None) == (
        Path("/srv/landing"),
        Path("wh.duckdb"),
        elsewhere / "out",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('landig = "/x"\n', "landig: Extra inputs are not permitted"),
        ('landing = "/x\n', "cannot read it"),
        ("landing = 3\n", "landing: Input is not a valid path"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_file_and_setting(project, text, reason):
    (project / "vmi.toml").write_text(text)
    with pytest.raises(SettingsError) as raised:
        load_config(project / "vmi.toml")
    message = str(raised.value)
    assert message.startswith(f"{project / 'vmi.toml'}: ") and reason in message
    assert "\n" not in message


def test_vmi_config_naming_a_missing_file_fails(project, monkeypatch):
    monkeypatch.setenv("VMI_CONFIG", str(project / "nope.toml"))
    with pytest.raises(SettingsError, match=r"^VMI_CONFIG: .*nope.toml is not a file$"):
        run_paths(None, None, None)


def test_a_path_given_nowhere_fails_naming_the_setting(project):
    with pytest.raises(SettingsError) as raised:
        RunSettings.from_args(None, None)
    assert str(raised.value) == (
        "no warehouse file: pass the warehouse parameter or set warehouse in vmi.toml (VMI_CONFIG)"
    )
    settings = RunSettings.from_args(None, project / "wh.duckdb")  # the run records the failure
    assert settings.landing is None and settings.out == project / "out"
    with pytest.raises(SettingsError) as raised:
        settings.check_landing()
    assert str(raised.value) == (
        "no landing folder: pass the landing parameter or set landing in vmi.toml (VMI_CONFIG)"
    )


def test_retry_schedule_defaults_to_the_backoff_and_reads_vmi_retry_delays():
    assert config_file.retry_schedule({}) == {"retries": 3, "retry_delay_seconds": [2, 5, 15]}
    assert config_file.retry_schedule({"VMI_RETRY_DELAYS": " 10, 60 "}) == {
        "retries": 2,
        "retry_delay_seconds": [10.0, 60.0],
    }


@pytest.mark.parametrize("value", ["abc", "5,,5", "-1", "1e9", "nan"])
def test_a_bad_retry_schedule_is_one_line_naming_the_variable(value):
    with pytest.raises(config_file.SettingsError) as raised:
        config_file.retry_schedule({"VMI_RETRY_DELAYS": value})
    assert str(raised.value).startswith("VMI_RETRY_DELAYS=") and "\n" not in str(raised.value)
