"""Shared fixtures: an isolated Prefect home and API server, and small generated worlds."""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

# Isolate Prefect before it is imported anywhere: its database and settings live here. One home
# per process, always: pytest-xdist's workers inherit the controller's environment, and two
# workers' servers migrating one SQLite file at once fail now and then ("No such constraint").
_PREFECT_HOME = tempfile.mkdtemp(prefix="vmi-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# Plain dbt inside the flow (the default; pinned in case the shell sets it); per-node Prefect
# tasks (prefect-dbt) run in tests/flows/test_dbt_per_node.py.
os.environ.setdefault("VMI_DBT_NODES_AS_TASKS", "0")
# Transient-fault retries without the production back-off (2, 5, 15 s): the retry tests wait on
# the retry itself, never on its delay.
os.environ.setdefault("VMI_RETRY_DELAYS", "0.1,0.1,0.1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_api():
    """A real Prefect API on loopback for the session (the same one `vmi run` starts)."""
    from flows.prefect_api import prefect_api as start_api

    saved = os.environ.pop("PREFECT_API_URL", None)
    with start_api() as url:
        yield url
    if saved is not None:
        os.environ["PREFECT_API_URL"] = saved


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory) -> Path:
    """A small but complete synthetic landing folder (6 dealers x 25 SKUs x 400 days)."""
    from sampledata import generate

    out = tmp_path_factory.mktemp("landing") / "landing"
    generate(out, dealers=6, skus=25, days=400, start=None, seed=11)
    return out


def shared_dir(tmp_path_factory) -> Path:
    """A folder all of the session's processes see: the xdist workers' base temp folders are
    siblings, so their parent; without xdist, the base temp folder itself."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "shared"
    folder.mkdir(exist_ok=True)
    return folder


def made_once(tmp_path_factory, name: str, make: Callable[[Path], str]) -> Path:
    """The folder `name` that `make(folder)` fills, made once per session and shared by every
    test file and xdist worker that asks for `name` (the first makes it while the others wait on
    a lock). What `make` returns is kept in `folder / "done"`. Read it only: copy to write."""
    base = shared_dir(tmp_path_factory)
    folder = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / "done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            (folder / "done").write_text(make(folder))
    return folder


@pytest.fixture(scope="session")
def make_once(tmp_path_factory):
    """make_once(name, make): `made_once` for the fixtures of test files."""
    return functools.partial(made_once, tmp_path_factory)


def published_night(tmp_path_factory, name: str, make_landing: Callable[[Path], None]) -> dict:
    """One real nightly run (Prefect API, DuckDB, dbt) on the landing `make_landing` writes,
    made once per session (`made_once`). For files that need a published night to start from,
    not to watch: it is never changed, so copy it (`copy_night`) to write to it.

    Returns the paths of `landing`, `warehouse` and `out`, and the published run `folder`."""

    def make(night: Path) -> str:
        from flows.nightly import nightly_replenishment
        from warehouse.connection import release_duckdb

        make_landing(night / "landing")
        folder = nightly_replenishment(
            landing=str(night / "landing"),
            warehouse=str(night / "night" / "warehouse.duckdb"),
            out=str(night / "night" / "out"),
        )
        release_duckdb()  # every row in the file itself, none left in a write-ahead log
        return Path(folder).name

    night = made_once(tmp_path_factory, name, make)
    return night_paths(night, night / "night")


def night_paths(night: Path, copy: Path) -> dict:
    from planner.run_folder import run_dir

    as_of = (night / "done").read_text()
    return {
        "landing": night / "landing",
        "warehouse": copy / "warehouse.duckdb",
        "out": copy / "out",
        "folder": run_dir(copy / "out", as_of),
        "as_of": as_of,
    }


@pytest.fixture(scope="session")
def copy_night():
    """copy_night(night, to): a private copy of a `published_night` in the new folder `to`
    (its warehouse and out; the landing stays shared, read it only)."""

    def copy(night: dict, to: Path) -> dict:
        shutil.copytree(night["warehouse"].parent, to)
        return night_paths(night["landing"].parent, to)

    return copy


def seed5_landing(landing: Path) -> None:
    """The 4 dealers x 12 SKUs x 200 days world (seed 5) of the crash and rerun tests."""
    from sampledata import generate

    generate(landing, dealers=4, skus=12, days=200, start=None, seed=5)


@pytest.fixture(scope="session")
def seed5_night(prefect_api, tmp_path_factory) -> dict:
    """A published night of `seed5_landing`'s world (shared; copy it to write to it)."""
    return published_night(tmp_path_factory, "seed5-night", seed5_landing)


@pytest.fixture(scope="session")
def small_night(prefect_api, small_landing, tmp_path_factory) -> dict:
    """A published night of `small_landing` (shared; copy it to write to it)."""
    return published_night(
        tmp_path_factory, "small-night", lambda landing: shutil.copytree(small_landing, landing)
    )


FILE_SECONDS = Path(__file__).with_name("file_seconds.json")  # measured; see its "about"
HEAVY_DEFAULT, LIGHT_DEFAULT = 60.0, 1.0  # a file not measured yet


def pytest_configure(config):
    """pytest-xdist's `--dist loadfile` hands out files biggest *test count* first unless told
    otherwise (`--loadscope-reorder` is its default), which put the long end-to-end files, with
    one to five tests each, at the very end of the run. Keep the order made below instead."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """Files run longest first (tests/file_seconds.json; file order kept within a file): under
    `make test`'s two xdist workers, which take whole files, the long files start early and the
    short ones fill the gaps, so the two workers finish together instead of one long file
    running alone at the end. A file not measured yet counts as long when it has end-to-end or
    slow tests."""
    measured = json.loads(FILE_SECONDS.read_text())["seconds"]
    marked = ("e2e", "slow")
    heavy = {item.path for item in items if any(item.get_closest_marker(m) for m in marked)}

    def seconds(item) -> float:
        default = HEAVY_DEFAULT if item.path in heavy else LIGHT_DEFAULT
        return measured.get(item.nodeid.split("::")[0], default)

    items.sort(key=lambda item: -seconds(item))
