"""Row validation: coerce the strings a dealer sent, then run the feed's Great Expectations suite.

Two steps, both giving failures as (row, rule, column):

1. `coerce` turns each column into its type (landing/schema.py); a value that does not parse is a
   `type` failure and the row skips GX.
2. `validate_frame` runs the feed's committed suite (expectations/gx/expectations/<feed>.json)
   once over a DataFrame with result_format COMPLETE and reads the failing row indexes. The
   frame may hold many files of one feed (a `source_file` column keeps the uniqueness rule per
   delivery), because each GX run costs tens of milliseconds however small the frame.

A row that breaks several rules is reported once, under the first: `type`, then the suite's
expectations in file order.
"""

from __future__ import annotations

import html
import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from landing.rules import Check, NotCompiled, compile_suite, run_checks
from landing.schema import BOOLEAN, DATE, FALSE_WORDS, INTEGER, NUMBER, TRUE_WORDS, Feed

PROJECT_ROOT = Path(__file__).resolve().parent.parent / "expectations"
DATA_SOURCE, ASSET, BATCH_DEFINITION = "feeds", "feed_frame", "whole_frame"
MAX_AGE_YEARS = 10
# Shipments may be expected up to a year after the as-of date.
EXPECTED_DATE_HORIZON_DAYS = 366
FAILURE_COLUMNS = ["row", "rule", "column", "order"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DATE = re.compile(r"(\d{4})[-/](\d{2})[-/](\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_COMPACT_DATE = re.compile(r"\d{8}")
_ARROW_TEXT = pd.StringDtype("pyarrow")
_ARROW_CASTS = {NUMBER: pa.float64(), INTEGER: pa.float64(), DATE: pa.date32()}
# The ASCII characters Arrow's Unicode whitespace trim removes (Python's str.strip() set).
_ASCII_WHITESPACE = "".join(
    char
    for char in map(chr, range(128))
    if not pc.utf8_trim_whitespace(pa.array([char]))[0].as_py()
)


# --- type coercion ---------------------------------------------------------------------------


def coerce(feed: Feed, strings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed columns of a feed from the strings read, and the values that did not parse.

    Parameters
    ----------
    feed
        The feed schema.
    strings
        Strings as read (object dtype, "" for empty), columns named as the feed's; an optional
        column that is absent becomes all-null.

    Returns
    -------
    typed, failures
        `typed` has every feed column, same index as `strings`; empty strings are null, ids are
        trimmed strings, numbers float64, integers Int64, dates datetime64, booleans boolean.
        `failures` has columns row (index label), rule (`type`), column, order (-1).

    Notes
    -----
    Numbers: plain decimals or exponents, `1,234.5` thousands separators allowed, surrounding
    spaces ignored; NaN, inf and values that overflow to inf are failures. Dates: `YYYY-MM-DD`
    (an Excel-style midnight time part is allowed), `YYYY/MM/DD` or `YYYYMMDD`. Booleans:
    true/false, t/f, yes/no, y/n, 1/0.
    """
    typed = pd.DataFrame(index=strings.index)
    failures: list[pd.DataFrame] = []
    for column in feed.columns:
        # Arrow strings: trimming and pattern matching run in Arrow's kernels, not per value.
        if column.name in strings.columns:
            text = strings[column.name].astype(_ARROW_TEXT).fillna("")
        else:
            text = pd.Series("", index=strings.index, dtype=_ARROW_TEXT)
        present = (text != "").to_numpy(dtype=bool)
        # A column Arrow casts as read has no value padded with whitespace (a padded value does
        # not cast), so trimming it would change nothing: it is skipped.
        kind = _ARROW_CASTS.get(column.kind)
        cast = _cast_all(text, present, kind) if kind is not None else None
        if cast is None:
            text = strip(text)
            present = (text != "").to_numpy(dtype=bool)
        if column.kind in (NUMBER, INTEGER):
            values, bad = _to_number(text, present, integer=column.kind == INTEGER, cast=cast)
        elif column.kind == DATE:
            values, bad = _to_date(text, present, days=cast)
        elif column.kind == BOOLEAN:
            values, bad = _to_boolean(text, present)
        else:
            values, bad = text.where(present), present & False
        typed[column.name] = values
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            failures.append(_failures(strings.index[bad], "type", column.name, -1))
    return typed, _concat_failures(failures)


def strip(text: pd.Series) -> pd.Series:
    """`text.str.strip()` (Arrow's Unicode whitespace trim), several times faster on the usual
    all-ASCII column: the same characters removed by Arrow's ASCII kernel."""
    values = pa.chunked_array(text.array._pa_array)
    if len(values) and pc.all(pc.string_is_ascii(values)).as_py():
        trimmed = pc.ascii_trim(values, _ASCII_WHITESPACE)
        return pd.Series(trimmed, index=text.index, dtype=_ARROW_TEXT)
    return text.str.strip()


def _to_number(
    text: pd.Series, present: pd.Series, *, integer: bool, cast: pa.Array | None = None
) -> tuple[pd.Series, pd.Series]:
    cast = _cast_all(text, present, pa.float64()) if cast is None else cast
    if cast is not None:
        valid, parsed = present, cast.to_numpy(zero_copy_only=False)
    else:
        grouped = text.str.fullmatch(_THOUSANDS.pattern).to_numpy(dtype=bool)
        plain = text.where(~grouped, text.str.replace(",", "", regex=False))
        valid = present & plain.str.fullmatch(_NUMBER.pattern).to_numpy(dtype=bool)
        parsed = _parse_floats(plain.where(valid, None))
    finite = np.isfinite(parsed)
    bad = present & ~(valid & finite)
    values = pd.Series(parsed, index=text.index)
    if integer:
        whole = np.zeros(len(values), dtype=bool)
        # Whole and within Int64 (1e100 is whole, but no integer column holds it).
        whole[finite] = (np.mod(parsed[finite], 1) == 0) & (np.abs(parsed[finite]) < 2.0**63)
        bad = bad | (present & ~whole)
        values = values.where(~bad).astype("Int64")
    else:
        values = values.where(~bad)
    return values, bad


def _parse_floats(text: pd.Series) -> np.ndarray:
    """float64 of strings already matched as numbers (NA -> NaN): Arrow's parser, exact like
    Python's; pandas' when Arrow declines a spelling (it then raises for the whole array)."""
    try:
        floats = pc.cast(pa.array(text.array), pa.float64())
        return floats.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        with np.errstate(over="ignore"):
            return pd.to_numeric(text.astype(object), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )


def _cast_all(text: pd.Series, present: np.ndarray, kind: pa.DataType) -> pa.Array | None:
    """Arrow's cast of every present value (absent ones null), or None when one does not cast.

    The fast path of a clean column: Arrow's float cast accepts the plain numbers `_NUMBER`
    matches and otherwise only inf/NaN spellings (non-finite, so failures either way); its
    date cast accepts only `YYYY-MM-DD` days that exist. Any other value sends the whole
    column down the careful path, which decides each value.
    """
    try:
        return pc.cast(pa.array(text.where(present, None).array), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _to_date(
    text: pd.Series, present: pd.Series, *, days: pa.Array | None = None
) -> tuple[pd.Series, pd.Series]:
    days = _cast_all(text, present, pa.date32()) if days is None else days
    if days is not None:
        try:  # a safe cast: a day outside datetime64[ns] takes the careful path
            stamps = pc.cast(days, pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            return pd.Series(stamps, index=text.index), present & False
        except pa.ArrowInvalid:
            pass
    # Plain ISO dates parse in C; only the other spellings go through the regex.
    values = pd.to_datetime(text.where(present, None), format="%Y-%m-%d", errors="coerce")
    other = present & values.isna()
    if other.any():
        rest = text[other]
        matched = rest.str.extract(_DATE.pattern)
        iso = (matched[0] + "-" + matched[1] + "-" + matched[2]).where(
            rest.str.fullmatch(_DATE.pattern)
        )
        compact = rest.str.fullmatch(_COMPACT_DATE.pattern)
        iso = iso.where(~compact, rest.str[:4] + "-" + rest.str[4:6] + "-" + rest.str[6:8])
        values[other] = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    # A day that datetime64[ns] cannot hold (before 1677 or after 2262) is a type failure.
    values = values.where((values >= pd.Timestamp.min) & (values <= pd.Timestamp.max))
    bad = present & values.isna().to_numpy(dtype=bool)
    # Nanosecond resolution: GX's range check is vectorised only for datetime64[ns] columns
    # (pandas 3 parses to microseconds, which GX compares one Python object at a time).
    return values.astype("datetime64[ns]"), bad


def _to_boolean(text: pd.Series, present: pd.Series) -> tuple[pd.Series, pd.Series]:
    lowered = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[lowered.isin(TRUE_WORDS)] = True
    values[lowered.isin(FALSE_WORDS)] = False
    bad = present & values.isna().to_numpy(dtype=bool)
    return values, bad


def _failures(rows: Iterable, rule: str, column: str, order: int) -> pd.DataFrame:
    rows = list(rows)
    return pd.DataFrame(
        {"row": rows, "rule": rule, "column": column, "order": order}, columns=FAILURE_COLUMNS
    )


def _concat_failures(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


# --- Great Expectations ----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _context(project_root: str):
    import great_expectations as gx

    return gx.get_context(mode="file", project_root_dir=project_root)


@lru_cache(maxsize=4)
def _batch_definition(project_root: str):
    context = _context(project_root)
    try:
        source = context.data_sources.get(DATA_SOURCE)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(DATA_SOURCE)
    try:
        asset = source.get_asset(ASSET)
    except LookupError:
        asset = source.add_dataframe_asset(ASSET)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


# GX's context and suites are built once per process; the lock makes a second thread wait for
# the first instead of building its own (see `warm_up`).
_GX_LOCK = threading.RLock()


def load_suite(feed_name: str, project_root: Path = PROJECT_ROOT):
    """The committed expectation suite of a feed kind (GX `ExpectationSuite`)."""
    with _GX_LOCK:
        return _suite(feed_name, str(project_root))


def warm_up(feed_names: Iterable[str], project_root: Path = PROJECT_ROOT) -> None:
    """Import GX and load the feeds' suites and compiled checks now (a few seconds, mostly the
    import), e.g. on a thread while the first files are still being read."""
    for name in feed_names:
        load_suite(name, project_root)
        with _GX_LOCK:
            _compiled(name, str(project_root))


@lru_cache(maxsize=16)
def _suite(feed_name: str, project_root: str):
    return _context(project_root).suites.get(feed_name)


def date_bounds(as_of: date | None) -> dict[str, pd.Timestamp]:
    """Date parameters of the suites: nothing after the as-of (today when None), nothing older
    than ten years before it, expected deliveries at most a year ahead."""
    latest = pd.Timestamp(as_of or date.today())
    return {
        "max_date": latest,
        "min_date": latest - pd.DateOffset(years=MAX_AGE_YEARS),
        "max_expected_date": latest + pd.Timedelta(days=EXPECTED_DATE_HORIZON_DAYS),
    }


def validate_frame(
    feed: Feed,
    frame: pd.DataFrame,
    *,
    known_dealers: Iterable[str] | None,
    known_skus: Iterable[str] | None,
    as_of: date | None,
    project_root: Path = PROJECT_ROOT,
    keep_results: list | None = None,
    engine: str = "compiled",
) -> pd.DataFrame:
    """Run a feed's suite once over a typed frame and list the failing rows.

    Parameters
    ----------
    feed
        The feed; its name is the suite name.
    frame
        Typed columns from `coerce` plus `source_file` (duplicates are looked for per file).
    known_dealers, known_skus
        Master-data ids; None skips that membership rule (no master data loaded yet).
    as_of
        Dates after it (today when None) or more than ten years before it fail.
    keep_results
        When given, the GX validation result is appended to it, trimmed to counts and the first
        20 unexpected values (`compact_result`), for `build_data_docs`.
    engine
        "compiled" (default): the suite's expectations compiled to vectorised checks
        (landing/rules.py, same verdicts, many times faster); "gx": GX's own pandas engine
        (also used when the suite has an expectation type the compiler does not know).

    Returns
    -------
    pandas.DataFrame
        Columns row (index label of `frame`), rule (the expectation's `meta.rule`; date range
        failures are split into `future_date` and `too_old`), column (for a rule over several
        columns, their names joined by ", "), order (position of the expectation in the suite).
    """
    if frame.empty:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    suite = load_suite(feed.name, project_root)
    batch_frame = frame.reset_index(drop=True)
    labels = frame.index.to_numpy()
    parameters: dict[str, object] = dict(date_bounds(as_of))
    # Without master data the membership rules cannot be judged: pass the values themselves.
    parameters["known_dealers"] = _id_list(known_dealers, batch_frame, "dealer_id")
    parameters["known_skus"] = _id_list(known_skus, batch_frame, "sku")
    with _GX_LOCK:
        checks = _compiled(feed.name, str(project_root)) if engine == "compiled" else None
    if checks is not None:
        result, masks = run_checks(checks, suite.name, batch_frame, parameters)
        unexpected = [np.flatnonzero(mask) for mask in masks]
    else:
        with _GX_LOCK:
            definition = _batch_definition(str(project_root))
        batch = definition.get_batch(batch_parameters={"dataframe": batch_frame})
        result = batch.validate(
            suite,
            expectation_parameters=parameters,
            result_format={"result_format": "COMPLETE"},
        )
        unexpected = [
            np.asarray((outcome.result or {}).get("unexpected_index_list") or [], dtype=int)
            for outcome in result.results
        ]
    order_of = {expectation.id: position for position, expectation in enumerate(suite.expectations)}
    parts: list[pd.DataFrame] = []
    for outcome, positions in zip(result.results, unexpected, strict=True):
        config = outcome.expectation_config
        exception = outcome.exception_info or {}
        if exception.get("raised_exception"):
            # A suite that cannot run is a bug in the suite or the frame, never bad data.
            raise RuntimeError(
                f"GX expectation {config.type} on {feed.name} failed to run: "
                f"{exception.get('exception_message')}"
            )
        if outcome.success or positions.size == 0:
            continue
        rule = (config.meta or {}).get("rule", config.type)
        column = _rule_column(config.kwargs)
        order = order_of.get(config.id, len(order_of))
        if rule == "date_range":
            late = batch_frame[column].iloc[positions] > parameters["max_date"]
            if column == "expected_date":
                late = batch_frame[column].iloc[positions] > parameters["max_expected_date"]
            for name, mask in (("future_date", late), ("too_old", ~late)):
                parts.append(_failures(labels[positions[mask.to_numpy()]], name, column, order))
        else:
            parts.append(_failures(labels[positions], rule, column, order))
    if keep_results is not None:
        files = sorted(frame["source_file"].unique()) if "source_file" in frame else []
        keep_results.append(compact_result(result, feed=feed.name, source_files=files))
    return _concat_failures(parts)


@lru_cache(maxsize=16)
def _compiled(feed_name: str, project_root: str) -> list[Check] | None:
    """The suite's compiled checks, or None when it needs GX's own engine (`NotCompiled`)."""
    try:
        return compile_suite(_suite(feed_name, project_root))
    except NotCompiled:
        return None


def _id_list(known: Iterable[str] | None, frame: pd.DataFrame, column: str) -> list[str]:
    """The value set for a membership rule, cut down to the ids that occur in the frame.

    Same verdicts as the full master list, but GX serialises the value set several times per
    run: a 100k-SKU list costs seconds, the ids of one batch only milliseconds.
    """
    if column not in frame.columns:
        return []
    present = {value for value in frame[column].unique() if isinstance(value, str)}
    if known is None:
        return sorted(present)
    return sorted(present.intersection(known))


def _rule_column(kwargs: dict) -> str:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return kwargs["column_A"]
    columns = [name for name in kwargs.get("column_list", []) if name != "source_file"]
    return ", ".join(columns)


def first_failures(failures: pd.DataFrame) -> pd.DataFrame:
    """One failure per row: the first rule it broke (lowest order, then column)."""
    if failures.empty:
        return failures
    ordered = failures.sort_values(["row", "order"], kind="stable")
    return ordered.drop_duplicates("row", keep="first").reset_index(drop=True)


# --- Data Docs -------------------------------------------------------------------------------

SITE = "local_site"
SECTIONS = ("validations", "profiling")  # the site's sections that read validation results
KEEP_RUNS = 30
_KEEP_VALUES = 20
_MAX_VALUE_CHARS = 200
_LISTED_FILES = 50


def compact_result(result, *, feed: str, source_files: Sequence[str] = ()):
    """Trim a COMPLETE GX result in place to what Data Docs show; return it.

    The full unexpected value and index lists (one entry per failing row, so as long as the
    batch) are dropped; counts, percentages and the first 20 unexpected values stay. The feed
    and the files of the batch are written to `meta["vmi"]`.
    """
    for outcome in result.results:
        details = outcome.result or {}
        for key in ("unexpected_list", "unexpected_index_list", "unexpected_index_query"):
            details.pop(key, None)
        if "partial_unexpected_list" in details:
            details["partial_unexpected_list"] = [
                _short(value) for value in details["partial_unexpected_list"][:_KEEP_VALUES]
            ]
        if "partial_unexpected_counts" in details:
            details["partial_unexpected_counts"] = [
                {**item, "value": _short(item.get("value"))}
                for item in details["partial_unexpected_counts"][:_KEEP_VALUES]
            ]
    result.meta["vmi"] = {
        "feed": feed,
        "source_files": [_short(name) for name in source_files[:_LISTED_FILES]],
        "files_in_batch": len(source_files),
    }
    return result


def _short(value: object) -> object:
    """A value as Data Docs may show it: cut to `_MAX_VALUE_CHARS` and HTML-escaped.

    GX renders the unexpected-value table cells as raw HTML, so a feed value such as
    ``<img src=x onerror=...>`` would run as script when the page is opened: escaped here, it
    shows as the text it was.
    """
    if not isinstance(value, str):
        return value
    if len(value) > _MAX_VALUE_CHARS:
        value = value[:_MAX_VALUE_CHARS] + "..."
    return html.escape(value, quote=True)


def build_data_docs(
    validations: Iterable = (),
    *,
    run_name: str | None = None,
    project_root: Path = PROJECT_ROOT,
    keep_runs: int = KEEP_RUNS,
    site_dir: Path | None = None,
    results_dir: Path | None = None,
) -> Path:
    """Render GX Data Docs for the suites and one run's validation results; return index.html.

    Cheap enough for every run: only the suites and this run's results are rendered (earlier
    pages stay as they are), and stored results of all but the newest `keep_runs` runs are
    deleted with their pages, so the index and the folder stay bounded however many nights run.

    Parameters
    ----------
    validations
        GX validation results of this run (`IngestResult.validations`, made by
        `validate_frame(..., keep_results=...)`), or none to render the suites only.
    run_name
        The run's id; results are filed under it. Required when `validations` is not empty.
    project_root
        The GX project folder (default: the repository's expectations/).
    keep_runs
        How many runs' results to keep (and their pages).
    site_dir
        Where the site is written (the nightly run: ``OUT/data_docs/``); default the
        project's ``gx/uncommitted/data_docs/local_site/``.
    results_dir
        Where the validation results are stored for the site: default
        ``<site_dir>/validation_results/`` when `site_dir` is given (a run writes nothing into
        the checkout's GX project, whose own results store is in memory), else the project's
        ``gx/uncommitted/validations/``.

    Returns
    -------
    pathlib.Path
        ``<site_dir>/index.html``.
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.render.renderer.site_builder import SiteBuilder

    validations = list(validations)
    if validations and not run_name:
        raise ValueError("build_data_docs: run_name is required to file validation results")
    context = _context(str(project_root))
    site = Path(site_dir) if site_dir else _site_dir(Path(project_root))
    if results_dir is None:
        uncommitted = Path(project_root) / "gx" / "uncommitted" / "validations"
        results_dir = site / "validation_results" if site_dir else uncommitted
    stored = Path(results_dir).resolve()
    store_name = _results_store(context, stored)
    store = context.stores[store_name]
    run_time = datetime.now(UTC)
    identifiers: list = [ExpectationSuiteIdentifier(suite.name) for suite in context.suites.all()]
    for number, result in enumerate(validations, start=1):
        feed = (result.meta.get("vmi") or {}).get("feed") or result.suite_name
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(result.suite_name),
            run_id=RunIdentifier(run_name=run_name, run_time=run_time),
            batch_identifier=f"{feed}-{number:04d}",
        )
        store.set(key, result)
        identifiers.append(key)
    _prune_old_runs(store, stored, keep_runs, site)
    # The project's site config, written elsewhere (never saved to great_expectations.yml).
    config = {k: v for k, v in context.variables.data_docs_sites[SITE].items() if k != "class_name"}
    backend = {**config.pop("store_backend"), "base_directory": str(site.resolve())}
    sources = {section: {"source_store_name": store_name} for section in SECTIONS}
    SiteBuilder(
        data_context=context, store_backend=backend, site_name=SITE,
        site_section_builders=sources, **config,
    ).build(identifiers)  # fmt: skip
    return site / "index.html"


def _results_store(context, folder: Path) -> str:
    """The name of a validation results store kept in `folder`, added to the context's stores
    in memory only (great_expectations.yml is never rewritten)."""
    from great_expectations.data_context.store import ValidationResultsStore

    name = f"vmi_results:{folder}"
    if name not in context.stores:
        backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder),
                   "suppress_store_backend_id": True}  # fmt: skip
        context.stores[name] = ValidationResultsStore(store_backend=backend, store_name=name)
    return name


def _site_dir(project_root: Path) -> Path:
    return project_root / "gx" / "uncommitted" / "data_docs" / SITE


def _prune_old_runs(store, stored: Path, keep_runs: int, site: Path) -> None:
    """Delete stored results (and their rendered pages) of all but the newest runs."""
    keys = store.list_keys()
    newest: dict[str, object] = {}
    for key in keys:
        name = key.run_id.run_name
        if name not in newest or key.run_id.run_time > newest[name]:
            newest[name] = key.run_id.run_time
    keep = set(sorted(newest, key=lambda name: newest[name], reverse=True)[:keep_runs])
    pages = site / "validations"
    for key in keys:
        name = key.run_id.run_name
        if name in keep:
            continue
        store.remove_key(key)
        suite = key.expectation_suite_identifier.name
        # The store leaves the run's (now empty) folders behind; the pages are ours to drop.
        for folder in (pages / suite / name, stored / suite / name):
            shutil.rmtree(folder, ignore_errors=True)
