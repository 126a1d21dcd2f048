"""Where a run's folders are: run parameters, then a config file, then VMI_* variables.

The config file is the one `VMI_CONFIG` names, else `vmi.toml` (or `vmi.yaml`) in the working
directory: the project root for a deployment's runs (prefect.yaml's pull step goes there).

    # vmi.toml
    landing = "/srv/vmi/landing"            # relative paths are relative to this file
    warehouse = "/srv/vmi/warehouse.duckdb"
    out = "/srv/vmi/out"                    # optional: default out/ beside the warehouse

A setting missing everywhere is left None; `missing` words the one-line error for it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

CONFIG_ENV = "VMI_CONFIG"
CONFIG_NAMES = ("vmi.toml", "vmi.yaml", "vmi.yml")
PATH_ENV = {"landing": "VMI_LANDING", "warehouse": "VMI_WAREHOUSE_FILE", "out": "VMI_OUT"}
WHAT = {"landing": "landing folder", "warehouse": "warehouse file", "out": "output folder"}


class SettingsError(ValueError):
    """Bad usage or configuration, with a one-line reason (the CLI's exit code 2)."""


class RunPaths(BaseModel):
    """The paths of vmi.toml / vmi.yaml (any of them may be left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    landing: Path | None = None
    warehouse: Path | None = None
    out: Path | None = None


def find_config(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The file `VMI_CONFIG` names (it must exist), else the first of CONFIG_NAMES in `cwd`."""
    environ = os.environ if environ is None else environ
    if named := environ.get(CONFIG_ENV, "").strip():
        path = Path(named).expanduser()
        if not path.is_file():
            raise SettingsError(f"{CONFIG_ENV}: {path} is not a file")
        return path.resolve()
    folder = Path.cwd() if cwd is None else cwd
    return next((folder / n for n in CONFIG_NAMES if (folder / n).is_file()), None)


def load_config(path: Path) -> RunPaths:
    """Read and check a config file; relative paths in it are made relative to its folder."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text) or {}
        paths = RunPaths.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise SettingsError(f"{path}: cannot read it: {reason}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise SettingsError(f"{path}: {where}: {first['msg']}") from None
    base = path.resolve().parent
    return paths.model_copy(
        update={k: base / v.expanduser() for k, v in paths if v is not None}  # base / abs = abs
    )


def run_paths(
    landing: str | Path | None,
    warehouse: str | Path | None,
    out: str | Path | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path | None, Path | None, Path | None]:
    """(landing, warehouse, out): each from the run's parameters, else the config file, else
    its VMI_* variable, else None. The file is only read when a parameter is missing."""
    environ = os.environ if environ is None else environ
    given = {"landing": landing, "warehouse": warehouse, "out": out}
    found = {k: Path(v) for k, v in given.items() if v not in (None, "")}
    if len(found) < len(given) and (config := find_config(environ)) is not None:
        found = dict(load_config(config)) | found
    for name, variable in PATH_ENV.items():
        if found.get(name) is None and environ.get(variable, "").strip():
            found[name] = Path(environ[variable].strip())
    return found.get("landing"), found.get("warehouse"), found.get("out")


def missing(name: str) -> str:
    """The one-line error for a path given nowhere, naming the setting."""
    return f"no {WHAT[name]}: pass the {name} parameter or set {name} in vmi.toml ({CONFIG_ENV})"


RETRY_ENV = "VMI_RETRY_DELAYS"
DEFAULT_RETRY_DELAYS = (2.0, 5.0, 15.0)


def retry_schedule(environ: Mapping[str, str] | None = None) -> dict:
    """Prefect task options `retries` and `retry_delay_seconds` for transient faults (a busy
    warehouse, a share not mounted): `VMI_RETRY_DELAYS="2,5,15"` (the default) retries three
    times, one number of seconds per retry."""
    raw = (os.environ if environ is None else environ).get(RETRY_ENV, "").strip()
    try:
        delays = [float(part) for part in raw.split(",")] if raw else list(DEFAULT_RETRY_DELAYS)
    except ValueError:
        delays = []
    if not delays or any(not 0 <= d < 86400 for d in delays):
        raise SettingsError(f"{RETRY_ENV}={raw!r}: expected seconds before each retry, e.g. 2,5,15")
    return {"retries": len(delays), "retry_delay_seconds": delays}
