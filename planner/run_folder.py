"""The published run folder, ``OUT/runs/<as_of>/``: the one contract every reader and writer uses.

What it holds (file names and, where fixed, CSV columns), where it lives (`runs_root`,
`run_dir`), how it is written (one atomic folder swap: build in a temp folder beside the target,
then rename it into place) and how it is read back (`read_run_table`, `read_run_summary`,
finding runs). DESIGN.md "Outputs" is the prose version of this module.

A reader of ``OUT/runs/<as_of>/`` sees either the previous complete run or the new complete run,
never a half-written one. Leftover temp folders of killed runs are removed on the next publish.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landing.schema import QUARANTINE_COLUMNS, TRUE_WORDS
from replenishment.actions import ACTION_OUTPUT_COLUMNS
from replenishment.alerts import ALERT_COLUMNS, SEVERITY_ORDER
from replenishment.demand import FORECAST_COLUMNS, PROFILE_COLUMNS
from replenishment.plan import TRANSFER_OUTPUT_COLUMNS
from replenishment.policy import SUGGESTION_COLUMNS
from replenishment.tiers import TIER_PROPOSAL_OUTPUT_COLUMNS

# --------------------------------------------------------------------------------------------
# File names and columns
# --------------------------------------------------------------------------------------------

RUNS = "runs"
SUMMARY_FILE = "run_summary.json"
REPORT_FILE = "report.html"
APPROVAL_FILE = "approval.json"
ORDERS_DIR = "orders"
EXPORTS_DIR = "exports"

# Every CSV a run folder may hold (file stem -> contract columns). Publish writes those up to
# `seasonality`, the report adds `changes`, `vmi approve` adds `audit` and `decisions` (and orders/,
# exports/). Extra columns are allowed: `kpis` carries every column of marts.fct_dealer_kpis.
TABLES: dict[str, list[str]] = {
    "suggestions": SUGGESTION_COLUMNS,
    "alerts": ALERT_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "forecast": FORECAST_COLUMNS,
    "transfers": TRANSFER_OUTPUT_COLUMNS,
    # excess-stock remedies (replenishment/actions.py) and dealer tier proposals (DESIGN.md
    # "Dealer management"); DESIGN's columns come first in both
    "actions": ACTION_OUTPUT_COLUMNS,
    "tier_proposals": TIER_PROPOSAL_OUTPUT_COLUMNS,
    "history": ["dealer_id", "sku", "week_start", "qty_sold", "is_censored"],
    "items": [
        "dealer_id", "sku", "dealer_name", "region", "category", "description", "unit_cost",
        "abc_class",
    ],
    "kpis": ["dealer_id"],
    "freshness": ["dealer_id", "feed", "last_report_date", "days_since_report"],
    "seasonality": PROFILE_COLUMNS,
    "changes": [
        "change_type", "dealer_id", "sku", "alert_type", "severity", "previous_qty",
        "current_qty", "qty_delta", "pct_change", "value", "reasons", "detail",
    ],
    "audit": [
        "approved_at", "approved_by", "dealer_id", "sku", "suggested_qty", "approved_qty",
        "is_held", "note",
    ],
    "decisions": [
        "approval_id", "approved_by", "approved_at", "dealer_id", "sku", "suggested_qty",
        "approved_qty", "is_held", "changed", "note", "dealer_note",
    ],
    # run_summary.json "files" of a run with more than `SUMMARY_MAX_FILES` files
    "files": [
        "path", "feed", "status", "rows_read", "rows_accepted", "rows_quarantined", "reason",
    ],
}  # fmt: skip
# Tables written gzip-compressed as ``<name>.csv.gz`` (pandas and DuckDB read them as they
# are): the weekly history is most of a run folder's bytes (about 3.8 KB a pair as plain
# CSV, 7 times less compressed). Folders written before keep their plain ``<name>.csv``,
# which `table_path` then finds.
COMPRESSED_TABLES = frozenset({"history"})
# gzip level 1: 25% larger than level 6 but 6 times faster to write (2 million rows: 10 MB
# in 0.8 s against 8 MB in 5 s). mtime 0: two runs of one landing give the same bytes.
GZIP_OPTIONS = {"method": "gzip", "compresslevel": 1, "mtime": 0}
# A run with more files than this keeps its per-file rows in files.csv; run_summary.json
# then lists only the files not accepted, with the counts (`summary_for_folder`).
SUMMARY_MAX_FILES = 1_000
FILES_TABLE = "files.csv"
CHANGE_COLUMNS = TABLES["changes"]
AUDIT_COLUMNS = TABLES["audit"]
# decisions.csv: the last approval's every decided line, held ones included (exports read it)
DECISION_COLUMNS = TABLES["decisions"]
# orders/<dealer file>.csv
ORDER_COLUMNS = ["dealer_id", "sku", "qty", "suggested_qty", "changed", "note"]

# Columns read as numbers; every other column is text (ids such as "NA" or "007" must survive,
# so text columns are never type-guessed).
NUMERIC_COLUMNS = {
    "on_hand", "in_transit", "on_order", "inventory_position", "avg_daily_demand",
    "lead_time_days", "lead_time_sd_days", "review_period_days", "protection_days",
    "demand_over_protection", "sigma_over_protection", "service_level", "z", "safety_stock",
    "order_up_to", "raw_need", "pack_size", "moq", "suggested_qty", "metric", "threshold",
    "line", "yhat", "yhat_lo", "yhat_hi", "qty", "qty_sold", "unit_cost", "days_since_report",
    "previous_qty", "current_qty", "qty_delta", "pct_change", "value", "approved_qty",
    "season_position", "factor", "rows_read", "rows_accepted", "rows_quarantined", "allocated_qty",
    "cost", "cost_per_unit", "days_to_clear", "rebate_rate", "credit_limit", "sales_value",
    "inventory_turnover", "slow_mover_share", "credit_breaches",
}  # fmt: skip
# Dates kept as ISO text; a writer may have added a midnight time ("2025-06-23 00:00:00").
DATE_COLUMNS = {"as_of", "week_start", "last_report_date"}

# alerts.csv `severity`, most severe first (the order is replenishment.alerts').
HISTORY_WEEKS = 104  # weeks of history the report draws


def run_summary(
    run_id: str,
    as_of: date,
    warehouse: Path,
    data_docs: str | None,
    files: list[dict],
    stages: list[dict],
    alerts: pd.DataFrame,
    restatements: list[dict] | None = None,
) -> dict[str, Any]:
    """The run_summary.json of a run (DESIGN.md "Outputs"), before it is published.

    `restatements`: the dealer-days this run's sell-through restated without some SKUs of the
    delivery they replace (`warehouse.restatements.partial_restatements`), one entry each.
    """
    counts = alerts["alert_type"].value_counts().sort_index().to_dict()
    return {
        "run_id": run_id, "as_of": as_of.isoformat(), "warehouse": str(warehouse),
        "data_docs": data_docs, "files": files, "stages": stages, "alerts": counts,
        "restatements": list(restatements or []),
    }  # fmt: skip


SEVERITIES = tuple(sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__))

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
SLUG_MAX = 64  # characters of a dealer id kept in its file name (the hash tells the rest apart)
HASH_CHARS = 10  # hex digits of SHA-256 (40 bits) after HASH_MARK in a hashed file name
HASH_MARK = "~"  # not in SAFE_NAME's set, so only hashed names contain it
TMP_PREFIX = ".tmp-"
OLD_PREFIX = ".old-"


def runs_root(out_dir: Path) -> Path:
    """``<out_dir>/runs``: the folder holding one folder per published as-of date."""
    return Path(out_dir) / RUNS


def run_dir(out_dir: Path, as_of: date | str) -> Path:
    """``<out_dir>/runs/<as_of>``, the folder of one run (``as_of`` a date or an ISO date)."""
    day = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    return runs_root(out_dir) / day.isoformat()[:10]


def table_path(folder: Path, name: str) -> Path:
    """The CSV of table ``name`` (a key of `TABLES`) in a run folder.

    ``<name>.csv``; for the `COMPRESSED_TABLES`, ``<name>.csv.gz``, unless the folder holds
    only a plain ``<name>.csv`` (written before they were compressed), which is then the one.
    """
    plain = Path(folder) / f"{name}.csv"
    if name not in COMPRESSED_TABLES:
        return plain
    packed = plain.with_name(f"{name}.csv.gz")
    return plain if plain.exists() and not packed.exists() else packed


def order_file_name(dealer_id: str) -> str:
    """The file name of a dealer's order (and export stem): distinct ids, distinct names.

    ``<slug>.csv`` when the slug is the id itself (``D001`` -> ``D001.csv``), else
    ``<slug>~<hash>.csv``: the slug keeps ``A-Z a-z 0-9 . _ -`` (anything else becomes ``_``,
    leading dots are dropped, at most `SLUG_MAX` characters) and the hash is the first
    `HASH_CHARS` hex digits of the SHA-256 of the exact id. ``a_b`` -> ``a_b.csv`` and
    ``a/b`` -> ``a_b~<hash>.csv``; two CJK ids of the same length share a slug but not a
    hash. A name without a hash never contains ``~`` (no id maps to itself with one), so an
    id cannot take the name of another id's hashed file. Every row of the file carries its
    ``dealer_id``, so the name is only a label.
    """
    dealer_id = str(dealer_id)
    slug = SAFE_NAME.sub("_", dealer_id).lstrip(".")[:SLUG_MAX] or "_"
    if slug == dealer_id:
        return f"{slug}.csv"
    digest = hashlib.sha256(dealer_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{slug}{HASH_MARK}{digest[:HASH_CHARS]}.csv"


# OWASP's CSV-injection rule: a cell starting with one of these is a formula (or a DDE
# payload) to Excel, LibreOffice and Google Sheets; it is written with a leading ``'``.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Every run table is written through `write_csv` (text cells neutralised); `read_run_table`
# gives them back as they were.
NEUTRALISED_TABLES = set(TABLES)
# Derived floats are rounded once, here, before any CSV is written: a sum in another order
# (DuckDB's parallel aggregates) moves the 15th digit, and two runs of one landing must give
# the same files.
FLOAT_DECIMALS = 9
# The csv module quotes a cell holding any character of the line terminator: with "\r\n" a
# carriage return inside a note is quoted too (with "\n" alone it is not, and splits the row).
CSV_LINE_END = "\r\n"


def neutralise(text: Any) -> str:
    """``text`` as a string a spreadsheet shows as text: a leading ``'`` before a formula start.

    OWASP's advice for CSV injection: a cell that starts with ``= + - @``, a tab or a
    carriage return is prefixed with a single quote, which spreadsheets treat as "this is
    text" (and hide). None and NaN become the empty string.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def neutralise_column(values: pd.Series) -> pd.Series:
    """`neutralise` on the text cells of a column at once; other cells are left as they are.

    None and NaN stay missing (written as empty cells, as `neutralise` would make them).
    """
    try:
        starts = values.str.startswith(FORMULA_START).fillna(False).astype(bool)
    except AttributeError:  # no text in the column (numbers or booleans held as objects)
        return values
    if not starts.any():
        return values
    cells = values.to_numpy(dtype=object, copy=True)  # by position: the index may repeat
    cells[starts.to_numpy()] = ["'" + text for text in cells[starts.to_numpy()]]
    return pd.Series(cells, index=values.index, name=values.name)


def restore(text: str) -> str:
    """Undo `neutralise` on a cell read back: ``'=x`` -> ``=x`` (anything else unchanged)."""
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


def restore_column(values: pd.Series) -> pd.Series:
    """`restore` over a column of text at once (run tables can hold millions of cells)."""
    text = values.astype(str)
    neutralised = text.str.startswith("'") & text.str[1:2].isin(FORMULA_START)
    return values.where(~neutralised, text.str[1:]) if neutralised.any() else values


def write_csv(frame: pd.DataFrame, path: Path, *, append: bool = False, **options: Any) -> Path:
    """Write ``frame`` as CSV with every text cell neutralised (`neutralise`).

    Every CSV the planner writes for people to open (orders, decisions, audit) goes through
    here. Numbers and booleans are written as they are; ``append`` adds rows to an existing
    file (the header only when the file is new). ``options`` go to `DataFrame.to_csv`.
    Lines end in CRLF (RFC 4180), so a cell holding a lone carriage return is quoted
    instead of splitting its row in a spreadsheet. A ``.gz`` path is written gzip-compressed
    (`GZIP_OPTIONS`).
    """
    path = Path(path)
    options.setdefault("lineterminator", CSV_LINE_END)
    if path.suffix == ".gz":
        options.setdefault("compression", GZIP_OPTIONS)
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_float_dtype(values):
            out[column] = values.round(FLOAT_DECIMALS)
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = neutralise_column(values)
    if append:
        out.to_csv(path, mode="a", header=not path.exists(), index=False, **options)
    else:
        out.to_csv(path, index=False, **options)
    return path


def severity_rank(severity: pd.Series) -> pd.Series:
    """0 for critical, 1 warning, 2 info; unknown severities rank after all known ones."""
    return severity.map(SEVERITY_ORDER).fillna(len(SEVERITY_ORDER)).astype(int)


# --------------------------------------------------------------------------------------------
# Writing: one atomic swap for folders, one for files
# --------------------------------------------------------------------------------------------


def replace_dir(temp: Path, target: Path, *, token: str | None = None) -> None:
    """Put a fully written folder ``temp`` in place of ``target`` (two renames, no copy).

    A reader sees either the old folder or the new one, never a half-written one. The old one
    is parked as ``.old-<target name>--<token>`` between the renames; if the process dies
    there, `clean_leftovers` puts it back.
    """
    old = target.with_name(f"{OLD_PREFIX}{target.name}--{token or uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, old)
    os.replace(temp, target)
    if old.exists():
        shutil.rmtree(old)


@contextmanager
def atomic_dir(target: Path, *, token: str | None = None) -> Iterator[Path]:
    """Yield an empty temp folder beside ``target``; on success it replaces ``target``.

    Parameters
    ----------
    target : Path
        The folder to (re)place, e.g. ``OUT/runs/<as_of>`` or ``<run>/orders``.
    token : str, optional
        Makes the temp name unique (a run or approval id); a random one by default.

    Notes
    -----
    An exception inside the block removes the temp folder and leaves ``target`` untouched.
    """
    token = token or uuid.uuid4().hex[:8]
    temp = target.with_name(f"{TMP_PREFIX}{target.name}--{token}")
    temp.mkdir()
    try:
        yield temp
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    replace_dir(temp, target, token=token)


def clean_leftovers(folder: Path) -> None:
    """Remove temp folders of killed writers in ``folder``; restore a lost target folder.

    A crash between the two renames of `replace_dir` leaves ``.old-<name>--<token>`` as the
    only copy when ``<name>`` is missing: it is put back; otherwise it is stale and removed.
    """
    for path in Path(folder).iterdir():
        if path.name.startswith(TMP_PREFIX) and path.is_dir():
            shutil.rmtree(path)
        elif path.name.startswith(OLD_PREFIX) and path.is_dir():
            target = path.with_name(path.name[len(OLD_PREFIX) :].split("--")[0])
            if target.exists():
                shutil.rmtree(path)
            else:
                path.rename(target)


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temp)`` on a temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def write_json(path: Path, payload: Mapping[str, Any]) -> Path:
    """Indented JSON (dates and paths as text), written atomically."""
    text = json.dumps(payload, indent=2, default=str) + "\n"
    return write_atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def publish_run(
    out_dir: Path,
    as_of: date,
    run_id: str,
    tables: Mapping[str, pd.DataFrame],
    summary: dict,
    *,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Write `tables` as CSV and `summary` as run_summary.json, then move them into place.

    Parameters
    ----------
    tables : file stem -> frame, e.g. ``{"suggestions": ..., "alerts": ...}`` (`TABLES`).
    finish : called on the temp folder after the files are written and before the rename
        (builds report.html), so the published folder is complete from its first instant.

    Returns
    -------
    Path
        The published folder, ``run_dir(out_dir, as_of)``.
    """
    runs = runs_root(out_dir)
    runs.mkdir(parents=True, exist_ok=True)
    clean_leftovers(runs)
    target = run_dir(out_dir, as_of)
    with atomic_dir(target, token=run_id) as temp:
        for name, frame in tables.items():
            write_csv(frame, table_path(temp, name))
        summary = summary_for_folder(summary, temp)
        (temp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if finish is not None:
            finish(temp)
    return target


def summary_for_folder(summary: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``summary`` as run_summary.json holds it: per-file rows in files.csv when there are many.

    With more than `SUMMARY_MAX_FILES` entries in ``summary["files"]``, every entry is written
    to ``<folder>/files.csv`` (`write_csv`, `TABLES["files"]` first, then any other key) and
    the summary keeps, in place of ``files``: ``files`` (the entries whose status is not
    ``accepted``), ``files_total``, ``files_by_status`` (status -> count) and
    ``files_table: "files.csv"``. Otherwise ``summary`` is returned unchanged.
    `read_run_files` reads the entries back either way.
    """
    files = summary.get("files") or []
    if len(files) <= SUMMARY_MAX_FILES:
        return summary
    frame = pd.DataFrame(files)
    columns = TABLES["files"] + [c for c in frame.columns if c not in TABLES["files"]]
    write_csv(frame.reindex(columns=columns), Path(folder) / FILES_TABLE)
    statuses = pd.Series([str(entry.get("status", "")) for entry in files])
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key != "files":
            out[key] = value
            continue
        out["files"] = [entry for entry in files if entry.get("status") != "accepted"]
        out["files_total"] = len(files)
        out["files_by_status"] = {k: int(n) for k, n in sorted(statuses.value_counts().items())}
        out["files_table"] = FILES_TABLE
    return out


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_run_table(folder: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one CSV of a run folder (``<name>.csv`` or ``.csv.gz``, `table_path`) with the
    contract's columns and types.

    Parameters
    ----------
    folder : Path
        The run folder, ``OUT/runs/<as_of>/``.
    name : str
        A key of `TABLES` (file name without ``.csv``).
    columns : list of str, optional
        Read only these (a few columns of a large table, e.g. history.csv of many runs);
        those the file lacks come back empty. Default: every column.

    Returns
    -------
    pandas.DataFrame
        The contract columns (missing ones added empty) plus any extra columns in the file.
        Text columns hold strings (empty string, never NaN); numeric columns hold floats.
        A missing file gives an empty frame with the contract columns.
    """
    wanted = TABLES[name] if columns is None else list(columns)
    path = table_path(folder, name)
    if not path.exists():
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in NUMERIC_COLUMNS else object) for c in wanted}
        )
    header = pd.read_csv(path, nrows=0).columns
    if columns is not None:
        header = pd.Index([c for c in header if c in set(columns)])
    columns = wanted
    numeric = [c for c in header if c in NUMERIC_COLUMNS]
    frame = pd.read_csv(
        path,
        usecols=list(header),
        dtype={c: str for c in header if c not in NUMERIC_COLUMNS},
        keep_default_na=False,
        na_values={c: ["", "nan", "NaN", "NA", "null"] for c in numeric},
    )
    for column in columns:
        if column not in frame.columns:
            frame[column] = np.nan if column in NUMERIC_COLUMNS else ""
    for column in numeric:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in DATE_COLUMNS & set(header):
        frame[column] = frame[column].str.slice(0, 10)
    if name in NEUTRALISED_TABLES:
        for column in header:
            if column not in numeric:
                frame[column] = restore_column(frame[column])
    return frame


def read_run_summary(folder: Path) -> dict[str, Any]:
    """``run_summary.json`` as a dict, or an empty dict when the file is missing."""
    path = Path(folder) / SUMMARY_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def read_run_files(folder: Path, summary: Mapping[str, Any] | None = None) -> list[dict]:
    """Every per-file entry of a run, as run_summary.json "files" holds them when few.

    ``summary`` is the folder's run_summary.json (read when not given). When it points to a
    files table (``files_table``, see `summary_for_folder`), the entries come from
    files.csv (``rows_*`` as integers); otherwise they are its ``files`` list.
    """
    summary = read_run_summary(folder) if summary is None else summary
    path = Path(folder) / FILES_TABLE
    if not summary.get("files_table") or not path.exists():
        return list(summary.get("files") or [])
    frame = read_run_table(folder, "files")
    counts = ["rows_read", "rows_accepted", "rows_quarantined"]
    frame[counts] = frame[counts].fillna(0).astype(int)
    return frame.to_dict("records")


def parse_bool(values: pd.Series) -> pd.Series:
    """`landing.schema.TRUE_WORDS` (any case, trimmed) -> True; anything else -> False."""
    return values.astype(str).str.strip().str.lower().isin(TRUE_WORDS)


def lines_with_items(folder: Path) -> pd.DataFrame:
    """Suggestions joined with their item master (names, category, unit cost) and line value.

    ``value`` is ``suggested_qty * unit_cost`` (0 where the cost is unknown) and
    ``stock_value`` is ``on_hand * unit_cost``.
    """
    lines = read_run_table(folder, "suggestions")
    items = read_run_table(folder, "items").drop_duplicates(["dealer_id", "sku"], keep="last")
    text = ["dealer_name", "region", "category", "description", "abc_class"]
    lines = lines.merge(
        items[["dealer_id", "sku", *text, "unit_cost"]], on=["dealer_id", "sku"], how="left"
    )
    for column in text:
        lines[column] = lines[column].fillna("").astype(str)
    lines["unit_cost"] = lines["unit_cost"].astype(float)
    cost = lines["unit_cost"].fillna(0.0)
    lines["value"] = lines["suggested_qty"].fillna(0.0) * cost
    lines["stock_value"] = lines["on_hand"].fillna(0.0).clip(lower=0) * cost
    return lines.reset_index(drop=True)


def _iso_date(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def run_as_of(folder: Path) -> date | None:
    """A run folder's as-of date: from run_summary.json, else suggestions.csv, else its name.

    Publish builds the report in a temp folder beside the published ones before renaming it,
    so the folder name alone is not enough.
    """
    folder = Path(folder)
    as_of = _iso_date(read_run_summary(folder).get("as_of"))
    suggestions = table_path(folder, "suggestions")
    if as_of is None and suggestions.exists():
        head = pd.read_csv(suggestions, nrows=1, dtype=str)
        if "as_of" in head.columns and len(head):
            as_of = _iso_date(head["as_of"].iloc[0])
    return as_of if as_of is not None else _iso_date(folder.name)


def published_runs(out_dir: Path) -> list[Path]:
    """The run folders under ``<out_dir>/runs`` (named by their ISO as-of), oldest first."""
    runs = runs_root(out_dir)
    if not runs.is_dir():
        return []
    return sorted(
        p for p in runs.iterdir() if p.is_dir() and len(p.name) == 10 and _iso_date(p.name)
    )


def latest_run(out_dir: Path) -> Path | None:
    """The newest run folder under ``<out_dir>/runs``, if any."""
    runs = published_runs(out_dir)
    return runs[-1] if runs else None


def find_previous_run(folder: Path) -> Path | None:
    """The newest run folder beside ``folder`` with an earlier as-of date, if any.

    Run folders are named by their ISO as-of date (``OUT/runs/<as_of>/``); folders with other
    names, or without ``suggestions.csv``, are ignored.
    """
    folder = Path(folder)
    current = run_as_of(folder)
    if current is None or not folder.parent.is_dir():
        return None
    earlier = [
        (folder_date, path)
        for path in folder.parent.iterdir()
        if path.is_dir()
        and path != folder
        and table_path(path, "suggestions").exists()
        and (folder_date := _iso_date(path.name)) is not None
        and folder_date < current
    ]
    return max(earlier)[1] if earlier else None
