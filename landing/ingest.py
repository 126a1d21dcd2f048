"""Ingest a landing folder into the `raw` schema: read, validate, load or quarantine, per file.

Order: master data first (master/dealers, master/skus, master/dealer_skus: they define which
dealers and SKUs are known), then sell_through/, inventory/, shipments/, each folder's files by
name. Per file:

- sha256 of the bytes; content already ingested (accepted or partial) -> `duplicate`, not read;
- read as strings (landing/readers.py), header checked -> `rejected` with a reason naming the file
  and the column when the file cannot be used at all;
- types coerced and the feed's GX suite run (landing/validate.py); failing rows -> raw.quarantine;
- accepted rows appended to raw.<feed> with lineage columns, the quarantine rows and the
  raw.file_ledger row written in one transaction, so a crash never leaves half a file loaded.

Small files of one feed are validated together (one GX run per ~200k rows) and then written one
transaction per file; a file larger than one chunk streams chunk by chunk through a loading table
and is copied into raw in one transaction at its end, so memory stays flat in the file's size.
Every value reaches DuckDB as a bound parameter or through a registered DataFrame, never as SQL.
"""

from __future__ import annotations

import errno
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from landing.readers import (
    CHUNK_ROWS,
    FileFacts,
    FileRejected,
    Table,
    arrow_frame,
    file_facts,
    open_table,
)
from landing.schema import (
    FEED_FOLDERS,
    FEEDS,
    FEEDS_BY_NAME,
    QUARANTINE_COLUMNS,
    Feed,
    master_feed_for,
    raw_tables,
)
from landing.validate import coerce, first_failures, validate_frame, warm_up
from warehouse import raw
from warehouse.connection import ensure_tables, transaction

# Small files are validated together until a batch holds this many rows.
BATCH_ROWS = 2 * CHUNK_ROWS
# Files hashed and read ahead of the one being validated (at most so many files or bytes).
READ_AHEAD_FILES = 512
READ_AHEAD_BYTES = 64 << 20
READ_THREADS = 2
# DuckDB's memory cap during ingest (it spills beyond it); None keeps the connection's setting.
DUCKDB_MEMORY_LIMIT: str | None = "512MB"

Progress = Callable[[str], None]
# One entry per file seen (run_summary.json "files"; statuses in DESIGN.md "Outputs").
FILE_COLUMNS = [
    "path",
    "feed",
    "status",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "reason",
]


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame(columns=QUARANTINE_COLUMNS)


@dataclass
class IngestResult:
    """What one ingest did.

    Attributes
    ----------
    files
        One dict per file seen, in processing order: path (relative to the landing folder),
        feed, status (accepted | partial | rejected | duplicate), rows_read, rows_accepted,
        rows_quarantined, reason. rows_read = rows_accepted + rows_quarantined for every file.
    quarantine
        The quarantined rows of this run (DESIGN quarantine.csv columns).
    rows_accepted
        Accepted rows per feed name.
    warnings
        Run-level remarks (e.g. no master data known, so membership rules were skipped).
    validations
        The GX validation results of the run, trimmed to counts and sample values (one per
        validated batch or chunk), for `landing.validate.build_data_docs`.
    """

    run_id: str
    files: list[dict] = field(default_factory=list)
    quarantine: pd.DataFrame = field(default_factory=_empty_quarantine)
    rows_accepted: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    validations: list = field(default_factory=list, repr=False)

    @property
    def rows_read(self) -> int:
        return sum(entry["rows_read"] for entry in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(entry["rows_quarantined"] for entry in self.files)

    def files_with_status(self, status: str) -> list[dict]:
        """The file entries with one status (e.g. "rejected" for the feed_rejected alert)."""
        return [entry for entry in self.files if entry["status"] == status]

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.files:
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        return counts


@dataclass
class _Prepared:
    """A small file read, waiting for its batch to be coerced and validated: its records as
    Arrow strings (every column of the file) and the line number of each."""

    feed: Feed
    rel: str
    facts: FileFacts
    table: Table
    records: pa.Table
    lines: np.ndarray
    entry: dict
    notes: list[str]

    def strings(self, lines: np.ndarray) -> pd.DataFrame:
        """The records of some lines as read (for their quarantine rows), indexed by line."""
        positions = np.searchsorted(self.lines, lines)
        return arrow_frame(self.records.take(pa.array(positions)), lines)


@dataclass
class _Opened:
    """One file as a reading thread left it: its facts and opened table, or why not."""

    facts: FileFacts | None = None
    unreadable: OSError | None = None
    table: Table | None = None
    rejected: FileRejected | None = None


@dataclass
class _Run:
    con: duckdb.DuckDBPyConnection
    run_id: str
    as_of: date | None
    result: IngestResult
    progress: Progress | None
    known_dealers: set[str] | None = None
    known_skus: set[str] | None = None
    pending: list[_Prepared] = field(default_factory=list)
    chunk_rows: int = CHUNK_ROWS
    # Content already ingested (sha256 -> (source_file, run_id)), read once and kept current.
    ingested: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Ledger rows of the open transaction, written together when it commits.
    ledger_rows: list[dict] = field(default_factory=list)
    # Batches are written by one writing thread while the next batch is read and validated
    # (DuckDB releases the GIL); `writing` is the write in flight. The connection is only ever
    # used by one thread at a time: the main thread settles the write before it uses it.
    writer: ThreadPoolExecutor | None = None
    writing: Future | None = None
    written: Callable[[], None] | None = None

    def settle(self) -> None:
        """Wait for the batch being written; its error, if any, is raised here. Once it is
        committed, its files are recorded and reported (`written`)."""
        if self.writing is not None:
            writing, written, self.writing, self.written = self.writing, self.written, None, None
            writing.result()
            written()

    def write(self, job: Callable[[], None], written: Callable[[], None]) -> None:
        self.settle()
        self.writing, self.written = self.writer.submit(job), written

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)


def ingest_landing(
    landing: Path,
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    as_of: date | None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestResult:
    """Read every feed file of a landing folder into the raw tables.

    Parameters
    ----------
    landing
        Folder with master/, sell_through/, inventory/, shipments/ (DESIGN.md "Landing folder").
        Hidden files, sub-folders and files outside those folders are ignored. A feed folder
        that is absent holds no files.
    con
        Open warehouse connection (`warehouse.connect`); raw tables are created if missing.
    run_id
        Stored on every raw, quarantine and ledger row, so `warehouse.runs.rollback_run` undoes it.
    as_of
        Dates after it are quarantined as `future_date`; None means today.
    progress
        Called with one line per file.
    chunk_rows
        Records per read chunk (large files stream in chunks of this size).

    Returns
    -------
    IngestResult

    Raises
    ------
    OSError
        The landing folder is missing, or a feed folder exists but cannot be listed
        (permission denied, I/O error, a dangling symlink standing for an unmounted share).
        Every folder is listed before the first file is read, so nothing has been written
        then; the flow task retries such faults and fails the run after its retries.
    """
    landing = Path(landing)
    if not landing.is_dir():
        # An unmounted share looks like this too: fail (and retry), never ingest "nothing".
        raise FileNotFoundError(errno.ENOENT, "landing folder not found", str(landing))
    ensure_tables(con, "raw", raw_tables())
    result = IngestResult(run_id=run_id, rows_accepted={feed.name: 0 for feed in FEEDS})
    run = _Run(con, run_id, as_of, result, progress, chunk_rows=chunk_rows)
    run.ingested = raw.ingested_contents(con)
    # List every folder first: an unlistable one fails the run before anything is written.
    plan = list(_discover(landing))
    run.writer = ThreadPoolExecutor(1, thread_name_prefix="vmi-write")
    # GX's import overlaps the reading of the first files (an error there resurfaces when the
    # first batch is validated, on the main thread).
    run.writer.submit(warm_up, [feed.name for feed in FEEDS])
    with raw.memory_limit(con, DUCKDB_MEMORY_LIMIT):
        try:
            for feed, group in plan:
                if feed is not None and feed.name in ("dealer_skus", "sell_through"):
                    _refresh_known(run)
                for path, opened in _read_ahead(run, feed, group):
                    _ingest_file(run, feed, opened, path.relative_to(landing).as_posix())
                _flush(run)
        finally:
            try:
                run.settle()  # before anyone else uses the connection, even after an error
            finally:
                run.writer.shutdown()
    if run.known_dealers is None or run.known_skus is None:
        result.warnings.append(
            "no dealer or SKU master data loaded: unknown_dealer / unknown_sku rules were skipped"
        )
    return result


# --- discovery -------------------------------------------------------------------------------


def _visible_files(folder: Path) -> list[Path]:
    """The feed files of one landing folder, by name.

    A folder that is simply absent holds no files. A folder that exists but cannot be listed
    (no permission, an I/O error, a symlink whose target is gone: a share that is not mounted)
    raises OSError: the run must fail and be retried, not quietly see an empty feed and go
    stale. A file entry whose link target is gone is kept, so it is reported as unreadable.
    """
    if not os.path.lexists(folder):
        return []
    if folder.is_symlink() and not folder.exists():
        raise FileNotFoundError(
            errno.ENOENT,
            f"feed folder is a link to {os.readlink(folder)}, which is not there "
            "(share not mounted?)",
            str(folder),
        )
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "feed folder is not a folder", str(folder))
    with os.scandir(folder) as entries:  # PermissionError / OSError propagate on purpose
        names = [entry.name for entry in entries]
    files = []
    for name in names:
        path = folder / name
        if name.startswith((".", "~$")):
            continue
        if path.is_file() or (path.is_symlink() and not path.exists()):
            files.append(path)
    return sorted(files, key=lambda path: path.name)


def _discover(landing: Path) -> Iterator[tuple[Feed | None, list[Path]]]:
    """(feed, files) in ingest order; feed None = files under master/ with an unknown name."""
    master = _visible_files(landing / "master")
    for feed in FEEDS:
        if feed.is_master:
            yield feed, [path for path in master if master_feed_for(path.stem) is feed]
    unknown = [path for path in master if master_feed_for(path.stem) is None]
    if unknown:
        yield None, unknown
    for folder in FEED_FOLDERS:
        yield FEEDS_BY_NAME[folder], _visible_files(landing / folder)


def _refresh_known(run: _Run) -> None:
    run.settle()
    run.known_dealers = raw.latest_master_ids(run.con, "dealers", "dealer_id")
    run.known_skus = raw.latest_master_ids(run.con, "skus", "sku")


# --- one file --------------------------------------------------------------------------------


def _entry(rel: str, feed_name: str) -> dict:
    entry = dict.fromkeys(FILE_COLUMNS, 0)
    entry.update(path=rel, feed=feed_name, status="rejected", reason="")
    return entry


def _read_ahead(run: _Run, feed: Feed | None, paths: list[Path]) -> Iterator[tuple[Path, _Opened]]:
    """(path, opened) in order, each file hashed and read by one of `READ_THREADS` threads
    ahead of the one being validated, up to `READ_AHEAD_FILES` files or `READ_AHEAD_BYTES`:
    hashing and Arrow's parser release the GIL, so reading overlaps the validation and
    writing of earlier files. Nothing is written here."""
    pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="vmi-read")
    queue: deque[tuple[Path, int, Future]] = deque()
    upcoming, queued_bytes = iter(paths), 0
    try:
        while True:
            while len(queue) < READ_AHEAD_FILES and queued_bytes < READ_AHEAD_BYTES:
                path = next(upcoming, None)
                if path is None:
                    break
                size = _size(path)
                queue.append((path, size, pool.submit(_open, run, feed, path)))
                queued_bytes += size
            if not queue:
                return
            path, size, future = queue.popleft()
            queued_bytes -= size
            yield path, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported when the file is read


def _open(run: _Run, feed: Feed | None, path: Path) -> _Opened:
    """Hash a file and open it (a small file is read whole); runs in a reading thread."""
    try:
        facts = file_facts(path)
    except OSError as exc:
        return _Opened(unreadable=exc)
    if feed is None or facts.sha256 in run.ingested:
        return _Opened(facts)  # unknown master file, or content ingested before: not read
    try:
        table = open_table(
            path,
            facts=facts,
            known_columns=feed.column_names,
            required_columns=feed.required_columns,
            chunk_rows=run.chunk_rows,
        )
    except FileRejected as exc:
        return _Opened(facts, rejected=exc)
    return _Opened(facts, table=table)


def _ingest_file(run: _Run, feed: Feed | None, opened: _Opened, rel: str) -> None:
    entry = _entry(rel, feed.name if feed else "master")
    run.result.files.append(entry)
    if opened.unreadable is not None:
        # No bytes, no hash: reported in the run's file list, nothing to put in the ledger.
        exc = opened.unreadable
        entry["reason"] = f"{rel}: unreadable ({exc.strerror or exc})"
        run.say(f"{rel}: rejected ({entry['reason']})")
        return
    facts = opened.facts
    if any(item.facts.sha256 == facts.sha256 for item in run.pending):
        _flush(run)  # the same content is waiting in this batch: write it so the ledger knows
    earlier = run.ingested.get(facts.sha256)
    if earlier:
        entry.update(
            status="duplicate", reason=f"same content as {earlier[0]} ingested in run {earlier[1]}"
        )
        run.say(f"{rel}: duplicate of {earlier[0]}")
        return
    if feed is None:
        names = ", ".join(f.name for f in FEEDS if f.is_master)
        _reject(run, entry, facts, f"{rel}: unknown master file (expected one of: {names})")
        return
    try:
        if opened.rejected is not None:
            raise opened.rejected
        table = opened.table
        missing = [name for name in feed.required_columns if name not in table.columns]
        if missing:
            raise FileRejected(f"missing required column(s): {', '.join(missing)}")
        first = second = None
        if table.whole is None:
            first = next(table.chunks, None)
            second = next(table.chunks, None)
    except FileRejected as exc:
        _reject(run, entry, facts, f"{rel}: {exc}")
        return
    notes = list(table.notes)
    extra = [
        original
        for name, original in zip(table.columns, table.header, strict=True)
        if name not in feed.column_names
    ]
    if extra:
        notes.append(f"extra columns ignored: {', '.join(extra)}")
    if table.whole is not None or second is None:
        if table.whole is not None:
            records, lines = table.whole, table.lines
        else:  # one chunk read by pandas or from a workbook
            first = first if first is not None else pd.DataFrame()
            records = pa.Table.from_pandas(first, preserve_index=False)
            lines = first.index.to_numpy(dtype="int64")
        if records.num_rows == 0:
            _reject(run, entry, facts, f"{rel}: header only, no data rows")
            return
        run.pending.append(_Prepared(feed, rel, facts, table, records, lines, entry, notes))
        if sum(item.records.num_rows for item in run.pending) >= BATCH_ROWS:
            _flush(run)
        return
    _flush(run)  # keep delivery order: earlier files are written first
    _stream_large_file(run, feed, facts, table, rel, entry, notes, [first, second])


def _reject(run: _Run, entry: dict, facts: FileFacts, reason: str) -> None:
    entry.update(status="rejected", rows_read=0, rows_accepted=0, rows_quarantined=0, reason=reason)
    run.settle()
    with transaction(run.con):
        _write_ledger(run, entry, facts, delivery_seq=None)
        _commit_ledger(run)
    run.say(f"{entry['path']}: rejected ({reason})")


def _flush(run: _Run) -> None:
    """Coerce and validate the pending small files of one feed at once, then write each file.

    One coercion and one GX run per batch: per-file pandas and GX overheads dominate otherwise.
    """
    if not run.pending:
        return
    pending, run.pending = run.pending, []
    feed = pending[0].feed
    # A row of the batch is known by its position; `files` and `lines` say where it came from.
    files = np.repeat(np.arange(len(pending)), [item.records.num_rows for item in pending])
    lines = np.concatenate([item.lines for item in pending])
    strings = arrow_frame(pa.concat_tables([_feed_columns(item.records, feed) for item in pending]))
    typed, type_failures = coerce(feed, strings)
    type_failed = type_failures["row"].unique()
    checked = typed.drop(index=type_failed) if len(type_failed) else typed
    names = [item.rel for item in pending]
    checked = checked.assign(
        source_file=pd.Categorical.from_codes(files[checked.index.to_numpy()], categories=names)
    )
    failures = validate_frame(
        feed,
        checked.reset_index(drop=True),
        known_dealers=run.known_dealers,
        known_skus=run.known_skus,
        as_of=run.as_of,
        keep_results=run.result.validations,
    )
    failures = failures.assign(row=checked.index.to_numpy()[failures["row"].to_numpy(dtype=int)])
    failures = first_failures(pd.concat([type_failures, failures], ignore_index=True))
    positions = failures["row"].to_numpy(dtype="int64")
    failed = np.zeros(len(files), dtype=bool)
    failed[positions] = True
    failures = failures.assign(file=files[positions], row=lines[positions])
    accepted_per_file = np.bincount(files[~failed], minlength=len(pending))
    by_file = dict(tuple(failures.groupby("file", sort=False))) if len(failures) else {}
    no_failures, no_quarantine = failures.iloc[0:0], _empty_quarantine()
    quarantines, counts = [], accepted_per_file.tolist()
    for number, item in enumerate(pending):
        mine, quarantine = no_failures, no_quarantine
        if number in by_file:
            mine = by_file[number].drop(columns="file")
            originals = item.strings(mine["row"].to_numpy(dtype="int64"))
            quarantine = _quarantine_frame(run, item.rel, item.table, originals, mine)
        quarantines.append(quarantine)
        rows_read = item.records.num_rows
        _finish_entry(item.entry, rows_read, counts[number], len(quarantine), item.notes, mine)
        if item.entry["status"] in raw.INGESTED:  # a later copy in this run is a duplicate
            run.ingested[item.facts.sha256] = (item.rel, run.run_id)
    rows = typed.loc[~failed, feed.column_names].assign(_file=files[~failed], line=lines[~failed])
    quarantine = _concat(quarantines)

    def written() -> None:  # "accepted" is said once the rows are committed
        for item, mine in zip(pending, quarantines, strict=True):
            _record(run, item.feed, item.entry, mine)

    run.write(lambda: _write_batch(run, feed, pending, counts, rows, quarantine), written)


def _write_batch(
    run: _Run,
    feed: Feed,
    pending: list[_Prepared],
    counts: list[int],
    rows: pd.DataFrame,
    quarantine: pd.DataFrame,
) -> None:
    """Write a validated batch (in the writing thread): one transaction for all its files (a
    commit per file cost more than validating it), so every file of the batch is in raw with
    its ledger row, or none is."""
    lineage, ledger = [], []
    with transaction(run.con):
        seq = raw.next_delivery_seq(run.con)
        for number, (item, count) in enumerate(zip(pending, counts, strict=True)):
            file_seq = seq if count else None
            seq += file_seq is not None
            lineage.append(_lineage(run, number, item.facts, item.rel, file_seq))
            ledger.append(_ledger_row(run, item.entry, item.facts, file_seq))
        raw.insert_with_lineage(run.con, f"raw.{feed.name}", rows, pd.DataFrame(lineage))
        _write_quarantine(run, quarantine)
        raw.write_ledger_rows(run.con, ledger)


def _feed_columns(records: pa.Table, feed: Feed) -> pa.Table:
    """A file's records with the feed's columns in the feed's order (extra columns left out, an
    absent optional column empty), so that the files of a batch stack into one table."""
    present = set(records.column_names)
    columns = [
        records.column(name) if name in present else pa.nulls(records.num_rows, pa.string())
        for name in feed.column_names
    ]
    # Arrow's CSV and Parquet readers give `string`; a frame read by pandas may give another.
    columns = [
        column if column.type == pa.string() else column.cast(pa.string()) for column in columns
    ]
    return pa.table(columns, names=feed.column_names)


def _lineage(run: _Run, number: int, facts: FileFacts, rel: str, seq: int | None) -> dict:
    """The lineage columns raw.<feed> stores with each accepted row of one file."""
    return {
        "_file": number,
        "file_sha256": facts.sha256,
        "source_file": rel,
        "delivery_seq": seq,
        "run_id": run.run_id,
        "loaded_at": datetime.now(UTC).replace(tzinfo=None),
    }


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _stream_large_file(
    run: _Run,
    feed: Feed,
    facts: FileFacts,
    table: Table,
    rel: str,
    entry: dict,
    notes: list[str],
    head: list[pd.DataFrame],
) -> None:
    """Load a file larger than one chunk: validate chunk by chunk, then publish it at once.

    Each chunk is committed to a loading table (`raw._loading_<feed>`, and
    `raw._loading_quarantine`), never held in memory or in an open transaction: DuckDB keeps
    the rows of an uncommitted transaction in memory, so one transaction over a 10-million-row
    file would need gigabytes. Once every chunk is in, one transaction copies the loading
    tables into raw.<feed> and raw.quarantine (DuckDB writes such a bulk copy straight to the
    file) with the ledger row. A crash or error before that commit leaves nothing in raw; the
    loading tables are replaced at the start of the next large file and dropped after each.
    """
    rows_read = accepted_count = 0
    quarantines: list[pd.DataFrame] = []
    run.settle()
    loading, loading_quarantine = raw.open_loading_tables(run.con, feed.name)

    def chunks() -> Iterator[pd.DataFrame]:
        yield from head
        yield from table.chunks

    try:
        for chunk in chunks():
            if chunk.empty:
                continue
            typed, type_failures = coerce(feed, chunk)
            checked = typed.drop(index=type_failures["row"].unique()).assign(source_file=rel)
            failures = validate_frame(
                feed,
                checked,
                known_dealers=run.known_dealers,
                known_skus=run.known_skus,
                as_of=run.as_of,
                keep_results=run.result.validations,
            )
            failures = first_failures(pd.concat([type_failures, failures], ignore_index=True))
            accepted = typed[~typed.index.isin(set(failures["row"].tolist()))]
            quarantine = _quarantine_frame(run, rel, table, chunk, failures)
            with transaction(run.con):
                rows = accepted[feed.column_names].assign(
                    _file=0, line=accepted.index.to_numpy(dtype="int64")
                )
                lineage = pd.DataFrame([_lineage(run, 0, facts, rel, None)])
                raw.insert_with_lineage(run.con, loading, rows, lineage)  # seq set at publish
                _write_quarantine(run, quarantine, target=loading_quarantine)
            quarantines.append(quarantine)
            rows_read += len(chunk)
            accepted_count += len(accepted)
        if rows_read == 0:
            raise FileRejected("header only, no data rows")
        with transaction(run.con):
            moved = _move_cross_chunk_duplicates(run, feed, facts, rel, loading, loading_quarantine)
        quarantines.append(moved)
        accepted_count -= len(moved)
        quarantine = pd.concat(quarantines, ignore_index=True)
        _finish_entry(entry, rows_read, accepted_count, len(quarantine), notes, quarantine)
        with transaction(run.con):
            seq = raw.next_delivery_seq(run.con) if accepted_count else None
            raw.publish_loading(run.con, feed.name, loading, loading_quarantine, seq)
            _write_ledger(run, entry, facts, delivery_seq=seq)
            _commit_ledger(run)
    except FileRejected as exc:
        raw.drop_loading_tables(run.con, loading, loading_quarantine)
        _reject(run, entry, facts, f"{rel}: {exc}")
        return
    except BaseException:
        raw.drop_loading_tables(run.con, loading, loading_quarantine, quiet=True)
        raise
    raw.drop_loading_tables(run.con, loading, loading_quarantine)
    _record(run, feed, entry, quarantine)


def _move_cross_chunk_duplicates(
    run: _Run, feed: Feed, facts: FileFacts, rel: str, loading: str, loading_quarantine: str
) -> pd.DataFrame:
    """Duplicate keys split across chunks escape the per-chunk GX rule: move them afterwards.

    Their raw_record holds the loaded values (the original strings are no longer in memory).
    """
    keys = list(feed.key)
    if not keys:
        return _empty_quarantine()
    duplicated = raw.take_duplicate_keys(run.con, loading, keys, feed.column_names)
    if duplicated.empty:
        return _empty_quarantine()
    values = (
        duplicated[feed.column_names].astype(str).where(duplicated[feed.column_names].notna(), "")
    )
    quarantine = pd.DataFrame(
        {
            "run_id": run.run_id,
            "source_file": rel,
            "line": duplicated["line"].astype(int),
            "rule": "duplicate_key",
            "column": ", ".join(keys),
            "value": values[keys].agg(", ".join, axis=1),
            "raw_record": [
                json.dumps(record, ensure_ascii=False) for record in values.to_dict("records")
            ],
        },
        columns=QUARANTINE_COLUMNS,
    )
    _write_quarantine(run, quarantine, target=loading_quarantine)
    return quarantine


# --- writing ---------------------------------------------------------------------------------


def _quarantine_frame(
    run: _Run, rel: str, table: Table, strings: pd.DataFrame, failures: pd.DataFrame
) -> pd.DataFrame:
    if failures.empty:
        return _empty_quarantine()
    lines = failures["row"].to_numpy(dtype="int64")
    originals = strings.loc[lines]
    header = dict(zip(table.columns, table.header, strict=True))
    records = [
        json.dumps({header[name]: value for name, value in row.items()}, ensure_ascii=False)
        for row in originals.to_dict("records")
    ]
    values = pd.Series("", index=range(len(lines)), dtype=object)
    for column in failures["column"].unique():
        mask = (failures["column"] == column).to_numpy()
        names = [name for name in column.split(", ") if name in originals.columns]
        if names:
            picked = originals.loc[:, names].iloc[mask]
            values[mask] = picked.agg(", ".join, axis=1).to_numpy()
    return pd.DataFrame(
        {
            "run_id": run.run_id,
            "source_file": rel,
            "line": lines,
            "rule": failures["rule"].to_numpy(),
            "column": failures["column"].to_numpy(),
            "value": values.to_numpy(),
            "raw_record": records,
        },
        columns=QUARANTINE_COLUMNS,
    )


def _write_quarantine(
    run: _Run, quarantine: pd.DataFrame, *, target: str = "raw.quarantine"
) -> None:
    raw.insert_frame(run.con, target, quarantine)


def _write_ledger(run: _Run, entry: dict, facts: FileFacts, *, delivery_seq: int | None) -> None:
    """Queue a file's ledger row; `_commit_ledger` writes the queue in the same transaction."""
    run.ledger_rows.append(_ledger_row(run, entry, facts, delivery_seq))


def _ledger_row(run: _Run, entry: dict, facts: FileFacts, delivery_seq: int | None) -> dict:
    return {
        "file_sha256": facts.sha256,
        "source_file": entry["path"],
        "feed": entry["feed"],
        "status": entry["status"],
        "size_bytes": facts.size_bytes,
        "rows_read": entry["rows_read"],
        "rows_accepted": entry["rows_accepted"],
        "rows_quarantined": entry["rows_quarantined"],
        "reason": entry["reason"],
        "delivery_seq": delivery_seq,
        "run_id": run.run_id,
        "received_at": datetime.now(UTC).replace(tzinfo=None),
    }


def _commit_ledger(run: _Run) -> None:
    """Write the queued ledger rows (inside the caller's transaction) and remember the content
    now ingested, so a later copy in this run is a duplicate without asking the warehouse."""
    rows, run.ledger_rows = run.ledger_rows, []
    raw.write_ledger_rows(run.con, rows)
    for row in rows:
        if row["status"] in raw.INGESTED:
            run.ingested[row["file_sha256"]] = (row["source_file"], row["run_id"])


def _finish_entry(
    entry: dict,
    rows_read: int,
    accepted: int,
    quarantined: int,
    notes: list[str],
    failures: pd.DataFrame,
) -> None:
    if quarantined == 0:
        status = "accepted"
    elif accepted == 0:
        status = "rejected"
    else:
        status = "partial"
    reasons = list(notes)
    if quarantined:
        counts = failures["rule"].value_counts()
        detail = ", ".join(f"{rule}: {count}" for rule, count in counts.items())
        lead = "all" if accepted == 0 else f"{quarantined} of"
        reasons.insert(0, f"{lead} {rows_read} rows quarantined ({detail})")
    entry.update(
        status=status,
        rows_read=rows_read,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        reason="; ".join(reasons),
    )


def _record(run: _Run, feed: Feed, entry: dict, quarantine: pd.DataFrame) -> None:
    result = run.result
    result.rows_accepted[feed.name] = (
        result.rows_accepted.get(feed.name, 0) + entry["rows_accepted"]
    )
    if not quarantine.empty:
        parts = [frame for frame in (result.quarantine, quarantine) if not frame.empty]
        result.quarantine = pd.concat(parts, ignore_index=True)
    run.say(
        f"{entry['path']}: {entry['status']} ({entry['rows_accepted']} accepted, "
        f"{entry['rows_quarantined']} quarantined)"
    )
