"""Run the dbt project against the run's warehouse file through prefect-dbt.

By default plain `dbt build` runs inside the `dbt_build` task; with VMI_DBT_NODES_AS_TASKS=1
`PrefectDbtRunner` shows each dbt node as a Prefect task (about 2.5 times slower on the demo,
benchmarks/bench_dbt.py). Either way a failed model or data test raises `DbtBuildError`, so the
flow fails and publishes nothing.

The nightly builds leave dbt's unit tests out (NIGHTLY_LEAVES_OUT), as dbt's documentation
advises for production builds: their rows are given in the YAML, not read from the warehouse,
so a night would only repeat the same check at about a quarter of a small world's core build.
They run wherever the SQL changes: a developer's `dbt build`, and the test suite
(tests/dbt/test_dbt_project.py runs them all under the vars a night passes).

The run's as-of date and id go to dbt as environment variables (RUN_VALUES), the policy's rules
as --vars, which stay the same from night to night: so the next night's builds on the same
warehouse re-parse only the two files that read the run's values, not the whole project.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import date
from pathlib import Path

from replenishment.tiers import policy_dbt_vars
from warehouse.connection import release_duckdb

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
# dbt's unit tests check the SQL on rows given in the YAML: the same result every night.
NIGHTLY_LEAVES_OUT = ["--exclude-resource-type", "unit_test"]
# The values that change every night reach dbt in the environment, not in --vars: dbt parses the
# whole project again whenever --vars change, but after a change of an environment variable only
# the files that read it (dbt_project/macros/dates.sql run_value; a var given wins).
RUN_VALUES = {"as_of": "VMI_DBT_AS_OF", "run_id": "VMI_DBT_RUN_ID"}


def dbt_project_dir() -> Path:
    """VMI_DBT_PROJECT_DIR when set (a data engineer's working copy), else `dbt_project/`."""
    configured = os.environ.get("VMI_DBT_PROJECT_DIR", "").strip()
    return Path(configured).expanduser().resolve() if configured else DBT_PROJECT_DIR


class DbtBuildError(RuntimeError):
    """A dbt model or data test failed."""


def run_dbt_build(
    warehouse: Path,
    selector: str,
    as_of: date,
    *,
    run_id: str | None = None,
    nodes_as_tasks: bool = False,
    policy: Path | None = None,
) -> int:
    """`dbt build --selector <selector>` on `warehouse`; return the number of nodes run.

    Parameters
    ----------
    warehouse : the DuckDB file (passed to the profile as ``VMI_WAREHOUSE``).
    selector : ``core`` (staging, intermediate, marts) or ``reporting``.
    as_of : the run's as-of date, passed to dbt as ``VMI_DBT_AS_OF`` (RUN_VALUES).
    run_id : the run, passed as ``VMI_DBT_RUN_ID`` (models kept per run are keyed by it).
    nodes_as_tasks : show each dbt node as a Prefect task (prefect-dbt, VMI_DBT_NODES_AS_TASKS=1);
        when False (the default) run plain dbt, one task for the whole build.
    policy : the policy file (None: the shipped one); its dealer rules become dbt vars.
    """
    os.environ["VMI_WAREHOUSE"] = str(Path(warehouse).resolve())
    # The project folder may be read-only or shared by concurrent runs: keep compiled output
    # and logs beside the warehouse instead.
    target = Path(str(warehouse) + ".dbt-target")
    os.environ["DBT_LOG_PATH"] = str(target / "logs")
    from_policy = policy_dbt_vars(policy)  # dealer tiers, channel-conflict rules (policy.yml)
    args = ["build", "--selector", selector, "--vars", json.dumps(from_policy)]
    args += ["--target-path", str(target), *NIGHTLY_LEAVES_OUT]
    values = {RUN_VALUES["as_of"]: as_of.isoformat(), RUN_VALUES["run_id"]: run_id or ""}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        return _invoke(args, selector, target, nodes_as_tasks)
    finally:
        release_duckdb()
        for name, value in saved.items():  # not left for a later dbt call in this process
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _invoke(args: list[str], selector: str, target: Path, nodes_as_tasks: bool) -> int:
    if nodes_as_tasks:
        from prefect_dbt import PrefectDbtRunner

        runner = PrefectDbtRunner(settings=prefect_dbt_settings(target), raise_on_failure=True)
        before = set(threading.enumerate())
        try:
            result = runner.invoke(args)
        except Exception as exc:  # prefect-dbt raises its own error type; name the stage
            raise DbtBuildError(f"dbt build --selector {selector} failed: {exc}") from exc
        finally:  # its node tasks end in daemon threads it never joins: log them before exit
            for node in [t for t in set(threading.enumerate()) - before if "(run_task)" in t.name]:
                node.join(timeout=60)
    else:
        from dbt.cli.main import dbtRunner

        project = str(dbt_project_dir())
        result = dbtRunner().invoke([*args, "--project-dir", project, "--profiles-dir", project])
    if not result.success:
        raise DbtBuildError(
            f"dbt build --selector {selector} failed: {_first_failure(result) or result.exception}"
        )
    return len(result.result or []) if result.result is not None else 0


def prefect_dbt_settings(target: Path):
    """prefect-dbt's settings; log level DBT_LOG_LEVEL (the quiet console's `none` is `error`)."""
    from prefect_dbt import PrefectDbtSettings

    level = os.environ.get("DBT_LOG_LEVEL", "info").strip().lower().replace("none", "error")
    paths = dict(project_dir=dbt_project_dir(), profiles_dir=dbt_project_dir(), target_path=target)
    return PrefectDbtSettings(**paths, log_level=level)


def _first_failure(result) -> str | None:
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", "")).lower()
        if status in {"error", "fail"}:
            name = getattr(getattr(node_result, "node", None), "name", "?")
            return f"{name}: {getattr(node_result, 'message', '')}"
    return None
