"""Run settings: the command-line arguments of one run, checked up front.

A wrong path or a bad date is a user mistake: `SettingsError` carries a one-line reason and the
CLI turns it into exit code 2 before anything is written.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from planner.config_file import SettingsError, missing, run_paths
from planner.run_folder import run_dir, runs_root
from warehouse.runs import unwritable


def dbt_nodes_as_tasks_default() -> bool:
    """Plain `dbt build` (one task) unless VMI_DBT_NODES_AS_TASKS=1: one Prefect task per dbt
    node costs several times as long (benchmarks/bench_dbt.py)."""
    return os.environ.get("VMI_DBT_NODES_AS_TASKS", "0").strip().lower() in {"1", "true", "yes"}


class LandingUnavailable(OSError):
    """No landing folder, or a link to nothing (share not mounted?): retried in a flow run."""


class RunSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    landing: Path | None  # None: given nowhere, a failure of the run (check_landing)
    warehouse: Path
    out: Path
    as_of: date | None = None
    policy_config: Path | None = None
    dbt_nodes_as_tasks: bool = False

    @classmethod
    def from_args(
        cls,
        landing: str | Path | None,
        warehouse: str | Path | None,
        out: str | Path | None = None,
        as_of: date | str | None = None,
        policy_config: str | Path | None = None,
        dbt_nodes_as_tasks: bool | None = None,
    ) -> RunSettings:
        landing, warehouse, out = run_paths(landing, warehouse, out)  # parameters, vmi.toml, env
        if warehouse is None:
            raise SettingsError(missing("warehouse"))
        warehouse = Path(warehouse).expanduser().resolve()
        out_dir = Path(out).expanduser().resolve() if out else warehouse.parent / "out"
        if isinstance(as_of, str):
            try:
                as_of = date.fromisoformat(as_of)
            except ValueError:
                raise SettingsError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
        return cls(
            landing=landing and landing.expanduser().absolute(),  # keep symlinks: see check()
            warehouse=warehouse,
            out=out_dir,
            as_of=as_of,
            policy_config=Path(policy_config).expanduser().resolve() if policy_config else None,
            dbt_nodes_as_tasks=dbt_nodes_as_tasks_default()
            if dbt_nodes_as_tasks is None
            else dbt_nodes_as_tasks,
        )

    def check(self) -> None:
        """Raise SettingsError naming the first problem with the paths."""
        self.check_out(self.as_of)
        if self.landing.is_symlink() and not self.landing.exists():
            return  # a share not mounted right now: the flow retries it (`check_landing`)
        if not self.landing.is_dir():
            raise SettingsError(f"--landing: {self.landing} is not a folder")
        for name in ("dealers.csv", "skus.csv"):
            if not (self.landing / "master" / name).is_file():
                raise SettingsError(f"--landing: {self.landing} has no master/{name}")
        if self.warehouse.is_dir():
            raise SettingsError(f"--warehouse: {self.warehouse} is a folder, not a DuckDB file")
        if self.policy_config is not None and not self.policy_config.is_file():
            raise SettingsError(f"--config: {self.policy_config} does not exist")

    def check_landing(self) -> None:
        """Raise LandingUnavailable (transient) when the landing folder is missing, SettingsError
        when none was given."""
        if self.landing is None:
            raise SettingsError(missing("landing"))
        if not self.landing.exists():
            what = "links to a missing folder" if self.landing.is_symlink() else "does not exist"
            raise LandingUnavailable(f"--landing: {self.landing} {what} (share not mounted?)")

    def check_out(self, as_of: date | None = None) -> None:
        """Raise SettingsError unless a run can publish under --out (replacing `as_of`'s run)."""
        if blocked := unwritable(runs_root(self.out), as_of and run_dir(self.out, as_of)):
            raise SettingsError(f"--out: {blocked} is not a writable folder: nothing can publish")
