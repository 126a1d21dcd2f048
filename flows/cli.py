"""The `vmi` command line: generate, run, simulate, approve, report, serve-web, users.

Exit codes: 0 done and published; 1 the run failed (or was stopped by SIGTERM) and nothing was
published; 130 stopped by Ctrl-C (SIGINT), nothing published; 2 bad usage or bad configuration,
with a one-line reason on stderr (never a traceback for a user mistake).
"""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from planner.interrupts import Interrupted, failure, signals_watched
from web import cli as web_cli

app = typer.Typer(
    help="dealer-vmi: vendor-managed inventory for a manufacturer and its dealers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
app.command("serve-web")(web_cli.serve_web)
app.add_typer(web_cli.users_app, name="users")


def _fail(message: str, code: int) -> None:
    typer.echo(f"vmi: {' '.join(message.split())}", err=True)  # one line, whatever the error
    raise typer.Exit(code)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", EXIT_USAGE)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Landing folder to write.")],
    dealers: Annotated[int, typer.Option(min=1, help="Number of dealers.")] = 20,
    skus: Annotated[int, typer.Option(min=1, help="Number of SKUs.")] = 100,
    days: Annotated[int, typer.Option(min=28, help="Days of history.")] = 730,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 7,
    quiet: Annotated[bool, typer.Option(help="No progress lines on stderr.")] = False,
    dealer_network: Annotated[
        bool, typer.Option(help="Add a price list, supply caps, a sliding dealer, a leaky seller.")
    ] = False,
) -> None:
    """Write a landing folder for a realistic synthetic dealer network."""
    from sampledata import generate as generate_world

    start_date = _parse_date(start, "--start")
    counts = generate_world(
        out,
        dealers=dealers,
        skus=skus,
        days=days,
        start=start_date,
        seed=seed,
        progress=None if quiet else lambda msg: typer.echo(f"  {msg}", err=True),
        dealer_network=dealer_network,
    )
    typer.echo(f"landing written to {out}\n{json.dumps(counts, default=str)}")


@app.command()
def run(
    landing: Annotated[Path, typer.Option(help="Landing folder with master/ and the feeds.")],
    warehouse: Annotated[Path, typer.Option(help="DuckDB warehouse file (created if missing).")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: vmi.toml, VMI_OUT, else out/).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Run date (default: newest date in the feeds).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Policy/alert configuration YAML (default: the shipped one)."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Prefect's and dbt's full logs on the console.")
    ] = False,
) -> None:
    """One nightly run: ingest, validate, dbt, forecast, replenish, publish.

    A line per stage as it ends, warnings that need a person; --verbose: Prefect's, dbt's logs.
    """
    from flows.settings import RunSettings, SettingsError
    from planner import console
    from replenishment.config import ConfigError, load_policy_config
    from warehouse.marker import NotAWarehouse, WarehouseInUse, open_checked

    try:
        settings = RunSettings.from_args(
            landing, warehouse, out, _parse_date(as_of, "--as-of"), config
        )
        settings.check()
        load_policy_config(settings.policy_config)
        if settings.warehouse.is_file():  # somebody else's file is refused before any work
            with suppress(WarehouseInUse):  # busy is not wrong: the run retries, then says so
                open_checked(settings.warehouse).close()
    except (SettingsError, ConfigError, NotAWarehouse) as exc:
        _fail(str(exc), EXIT_USAGE)

    from flows.prefect_api import ServerDidNotStart, prefect_api
    from warehouse.lock import WarehouseBusy

    console.start(verbose)  # before Prefect is imported: it reads its logging settings then
    try:
        with signals_watched(), prefect_api():
            from flows.nightly import nightly_replenishment

            folder = nightly_replenishment(
                landing=str(settings.landing),
                warehouse=str(settings.warehouse),
                out=str(settings.out),
                as_of=settings.as_of,
                policy_config=str(settings.policy_config) if settings.policy_config else None,
            )
    except (SettingsError, ConfigError, NotAWarehouse) as exc:
        _fail(str(exc), EXIT_USAGE)
    except (WarehouseBusy, ServerDidNotStart) as exc:
        _fail(str(exc), EXIT_FAILED)
    except (Interrupted, Exception) as exc:  # the flow run logs hold the traceback
        _fail(*failure(exc))
    typer.echo(f"outputs: {folder}")
    for name in ("suggestions.csv", "alerts.csv", "report.html", "run_summary.json"):
        typer.echo(f"  {Path(folder) / name}")


@app.command()
def simulate(
    json_path: Annotated[Path, typer.Option("--json", help="Where to write the results JSON.")],
    weeks: Annotated[int, typer.Option(min=4, help="Simulated weeks.")] = 52,
    dealers: Annotated[int, typer.Option(min=1)] = 5,
    skus: Annotated[int, typer.Option(min=1)] = 40,
    seed: Annotated[int, typer.Option()] = 7,
    service_level: Annotated[float, typer.Option(help="Target cycle service level.")] = 0.95,
    forecaster: Annotated[
        str, typer.Option(help="forecasting|ses|ses_flat|oracle")
    ] = "forecasting",
    baseline_z: Annotated[str | None, typer.Option(help="Default: the policy's z.")] = None,
) -> None:
    """Closed-loop backtest of the policy against an ERP min/max baseline."""
    from simulation.command import simulate_to_json

    try:
        lines = simulate_to_json(
            json_path, weeks, dealers, skus, seed, service_level, forecaster, baseline_z
        )
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    typer.echo("\n".join(lines))


@app.command()
def approve(
    out: Annotated[Path, typer.Option(help="Output folder of the runs.")],
    as_of: Annotated[str, typer.Option("--as-of", help="The run to approve (YYYY-MM-DD).")],
    overrides: Annotated[
        Path | None, typer.Option(help="CSV/XLSX: dealer_id, sku, qty or hold, note.")
    ] = None,
    approved_by: Annotated[str | None, typer.Option(help="Who approves (default: $USER).")] = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="Warehouse to record approvals in (default: the run's).")
    ] = None,
) -> None:
    """Apply overrides, write orders/<dealer_id>.csv and record the approval.

    Exit 2 for a bad overrides file, --as-of or warehouse file; exit 1 when the run folder
    cannot be written or another process holds the warehouse (nothing is written then).
    """
    import getpass

    from planner.approve import ApprovalError
    from planner.publish_approval import approve_and_publish, summary_lines
    from warehouse.marker import NotAWarehouse, WarehouseInUse

    day = _parse_date(as_of, "--as-of")
    try:
        result, exports = approve_and_publish(
            out, day, overrides, approved_by=approved_by or getpass.getuser(), warehouse=warehouse
        )
    except (ApprovalError, FileNotFoundError, NotAWarehouse) as exc:
        _fail(str(exc), EXIT_USAGE)
    except WarehouseInUse as exc:
        _fail(f"{exc}; nothing written, try again when it is done", EXIT_FAILED)
    except OSError as exc:  # an unwritable run folder, a full disk
        _fail(f"{exc.filename or out}: cannot write the approval: {exc.strerror}", EXIT_FAILED)
    typer.echo("\n".join(summary_lines(result, exports)))


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="Output folder of the runs.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Run date (default: the newest run).")
    ] = None,
) -> None:
    """(Re)build report.html for a run and print its path."""
    from planner.report import build_report
    from planner.run_folder import latest_run, run_dir, runs_root

    runs_dir = runs_root(out)
    day = _parse_date(as_of, "--as-of")
    if day is None:
        folder = latest_run(out)
        if folder is None:
            _fail(f"--out: no published runs under {runs_dir}", EXIT_USAGE)
    else:
        folder = run_dir(out, day)
        if not folder.is_dir():
            _fail(f"--as-of: no run for {day} under {runs_dir}", EXIT_USAGE)
    typer.echo(str(build_report(folder)))


if __name__ == "__main__":  # pragma: no cover
    app()
