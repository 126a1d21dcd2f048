"""Read one landing file (CSV, Parquet or XLSX) as chunks of strings, keeping line numbers.

Every value is read as the string the dealer sent (no type guessing, no NA guessing) so that a
quarantined row can show its original values; landing/validate.py coerces types afterwards.
A file that cannot be read as a table raises `FileRejected` with a one-line reason.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 200_000
_READ_BLOCK = 1 << 20
# Bounds that keep memory bounded whatever a file holds (a CSV with its newlines stripped is
# one line of the whole file): longer lines or wider headers reject the file with that reason.
MAX_LINE_BYTES = 1 << 20
MAX_COLUMNS = 500
# Strings as Arrow holds them: read, trimmed and matched without a Python object per value.
TEXT = pd.StringDtype("pyarrow")
_TEXT_TYPES = {pa.string(): TEXT, pa.large_string(): TEXT}
# UTF-8 CSV files up to this size are parsed by Arrow's multi-threaded reader in one go.
ARROW_CSV_MAX_BYTES = 256 << 20
# Files up to this size are read when opened and kept as one Arrow table (`Table.whole`), so that
# many small files of a feed are converted and validated together, not one by one.
WHOLE_MAX_BYTES = 32 << 20
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class FileRejected(Exception):
    """The whole file is rejected; `str(exc)` is the one-line reason (without the file name)."""


@dataclass
class FileFacts:
    """What one streaming pass over the bytes tells: content hash, size, UTF-8 or not."""

    sha256: str
    size_bytes: int
    is_utf8: bool
    # Offset of the first byte that is not valid UTF-8 (None when the file is UTF-8).
    bad_utf8_offset: int | None = None
    # The longest line in bytes (newline excluded) and its 1-based number.
    longest_line: int = 0
    longest_line_number: int = 1


@dataclass
class Table:
    """An opened feed file.

    `columns` are the normalised column names (unique), `header` the names as the file spells
    them (trimmed), in the same order. `chunks` yields DataFrames of strings (`TEXT` dtype,
    never missing: an empty field is "") with those normalised names as columns and the
    1-based line number of each record as index (header = line 1). Fully empty records are
    dropped.
    """

    columns: list[str]
    header: list[str]
    chunks: Iterator[pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    # A small file read at once: its records as Arrow strings (fully empty records dropped, the
    # same names as `columns`) and the line number of each. None when the file streams.
    whole: pa.Table | None = None
    lines: np.ndarray | None = None


def normalise_name(name: object) -> str:
    """Column name as matched: trimmed, lower case, inner spaces and dashes as underscores."""
    text = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def file_facts(path: Path) -> FileFacts:
    """sha256 of the bytes and whether they decode as UTF-8, in one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    bad_offset: int | None = None
    size = 0
    lines_before, current, longest, longest_at = 0, 0, 0, 1
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
            # Line lengths from the newline positions (numpy: no Python object per line).
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            lengths = np.diff(ends, prepend=-1) - 1
            lengths = np.append(lengths, len(block) - 1 - (ends[-1] if len(ends) else -1))
            lengths[0] += current  # the line that went on from the previous block
            current = int(lengths[-1])
            at = int(lengths.argmax())
            if lengths[at] > longest:
                longest, longest_at = int(lengths[at]), lines_before + at + 1
            lines_before += len(lengths) - 1
            if bad_offset is None:
                # Bytes of a character split across blocks wait in the decoder.
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    bad_offset = max(size - pending + exc.start, 0)
            size += len(block)
    if bad_offset is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_offset = size - len(decoder.getstate()[0])
    return FileFacts(digest.hexdigest(), size, bad_offset is None, bad_offset, longest, longest_at)


def open_table(
    path: Path,
    *,
    facts: FileFacts,
    known_columns: Sequence[str],
    required_columns: Sequence[str],
    chunk_rows: int = CHUNK_ROWS,
) -> Table:
    """Open a landing file for reading in chunks of strings.

    Parameters
    ----------
    path
        The file; its suffix (case-insensitive) chooses the reader.
    facts
        From `file_facts` (the encoding check reuses its UTF-8 verdict).
    known_columns, required_columns
        The feed's columns: used to pick the CSV delimiter and the XLSX sheet.
    chunk_rows
        Records per chunk, so that a large CSV or Parquet file streams.

    Raises
    ------
    FileRejected
        Empty, unreadable, undecodable, or duplicate column names.
    """
    if facts.size_bytes == 0:
        raise FileRejected("empty file")
    suffix = path.suffix.lower()
    if suffix == ".csv" and facts.longest_line > MAX_LINE_BYTES:
        raise FileRejected(
            f"line {facts.longest_line_number:,} is {facts.longest_line:,} bytes long "
            f"(limit {MAX_LINE_BYTES:,} bytes per line): newlines missing?"
        )
    if suffix == ".csv":
        return _open_csv(path, facts, known_columns, chunk_rows)
    if suffix == ".parquet":
        return _open_parquet(path, chunk_rows)
    if suffix == ".xlsx":
        return _open_xlsx(path, required_columns)
    raise FileRejected(
        f"unsupported file type {suffix or '(none)'} (expected .csv, .parquet or .xlsx)"
    )


def _name_columns(header: Sequence[object]) -> tuple[list[str], list[str]]:
    """Trimmed original names and unique normalised names; unnamed columns get a position."""
    original = [str(name).replace("\ufeff", "").strip() for name in header]
    names = [
        normalise_name(name) if name else f"unnamed_column_{position}"
        for position, name in enumerate(original, start=1)
    ]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FileRejected(f"duplicate column {name}")
        seen.add(name)
    return original, names


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(TEXT).fillna("")


def _drop_empty_records(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop records whose every field is empty (blank lines, `,,,`): they carry no row.

    A record of spaces is kept: it is a row, and its empty keys quarantine it.
    """
    if frame.empty:
        return frame
    return frame[(frame != "").any(axis=1)]


# --- CSV -------------------------------------------------------------------------------------


def detect_encoding(path: Path, facts: FileFacts) -> tuple[str, str | None]:
    """The codec to read a CSV with, and a note when it is not UTF-8.

    UTF-8 (with or without BOM) is the contract. Files from older dealer systems may be GB18030
    (simplified Chinese) or Big5 (traditional): both decode almost any byte string, so a file
    is decoded with one only when that decode is clean and every non-ASCII character is a common
    character of that script (GB2312 level 1 / Big5 level 1) or CJK punctuation, and the other
    codec does not also pass. Otherwise the file is rejected rather than garbled.
    """
    if facts.is_utf8:
        return "utf-8-sig", None
    plausible = [codec for codec in ("gb18030", "big5") if _plausible_legacy(path, codec)]
    if len(plausible) == 1:
        codec = plausible[0]
        return codec, f"decoded as {codec.upper()}"
    where = _describe_offset(path, facts.bad_utf8_offset)
    if plausible:
        raise FileRejected(
            f"cannot decode as UTF-8 ({where}); it reads as GB18030 and as Big5 alike, "
            "so it is not guessed: please send UTF-8"
        )
    raise FileRejected(
        f"cannot decode as UTF-8 ({where}); not GB18030 or Big5 either: please send UTF-8"
    )


def _describe_offset(path: Path, offset: int | None) -> str:
    """`invalid byte 0xFC on line 2` for the first byte that is not UTF-8."""
    if offset is None:
        return "invalid bytes"
    newlines = 0
    with path.open("rb") as handle:
        remaining = offset
        while remaining > 0 and (block := handle.read(min(_READ_BLOCK, remaining))):
            newlines += block.count(b"\n")
            remaining -= len(block)
        byte = handle.read(1)
    shown = f"0x{byte[0]:02X}" if byte else "end of file"
    return f"invalid byte {shown} on line {newlines + 1}"


def _plausible_legacy(path: Path, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_READ_BLOCK):
                if not _plausible_text(decoder.decode(block), codec):
                    return False
            return _plausible_text(decoder.decode(b"", final=True), codec)
    except UnicodeDecodeError:
        return False


def _plausible_text(text: str, codec: str) -> bool:
    for char in text:
        if char.isascii():
            if char.isprintable() or char in "\r\n\t":
                continue
            return False
        code = ord(char)
        if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
            continue  # CJK punctuation, full-width forms
        if not 0x4E00 <= code <= 0x9FFF:
            return False
        if not _common_ideograph(char, codec):
            return False
    return True


def _common_ideograph(char: str, codec: str) -> bool:
    try:
        if codec == "gb18030":
            lead = char.encode("gb2312")[0]
            return 0xB0 <= lead <= 0xD7  # GB2312 level 1: the 3,755 most used hanzi
        lead = char.encode("big5")[0]
        return 0xA4 <= lead <= 0xC6  # Big5 level 1: the 5,401 most used characters
    except UnicodeEncodeError:
        return False


def _first_line(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, newline="") as handle:
        for line in handle:
            if line.strip():
                return line
    return ""


def _choose_delimiter(line: str, known_columns: Sequence[str]) -> str:
    """The delimiter under which the header names the most feed columns (ties: most fields)."""
    known = set(known_columns)

    def score(delimiter: str) -> tuple[int, int]:
        fields = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        return (sum(normalise_name(name) in known for name in fields), len(fields))

    return max(_DELIMITERS, key=score)


def _open_csv(path: Path, facts: FileFacts, known_columns: Sequence[str], chunk_rows: int) -> Table:
    encoding, note = detect_encoding(path, facts)
    line = _first_line(path, encoding)
    if not line.strip():
        raise FileRejected("empty file")
    try:
        delimiter = _choose_delimiter(line, known_columns)
        header = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    except csv.Error as exc:
        raise FileRejected(f"malformed CSV header: {_one_line(exc)}") from exc
    if len(header) > MAX_COLUMNS:
        raise FileRejected(f"the header has {len(header):,} columns (limit {MAX_COLUMNS:,})")
    original, names = _name_columns(header)
    notes = [note] if note else []
    if delimiter != ",":
        notes.append(f"{_DELIMITER_NAMES[delimiter]} delimited")
    arrow_first = (
        encoding == "utf-8-sig"
        and facts.size_bytes <= ARROW_CSV_MAX_BYTES
        and _starts_with_header(path)
    )
    read: pa.Table | None = None
    if arrow_first and facts.size_bytes <= WHOLE_MAX_BYTES:
        read = _read_arrow_table(path, names, delimiter)
        arrow_first = read is not None  # refused: pandas reads it and words the reason
        if read is not None and read.num_rows <= chunk_rows:
            whole, lines = _drop_empty_arrow(read)
            return Table(names, original, _whole_chunks(whole, lines), notes, whole, lines)

    def chunks() -> Iterator[pd.DataFrame]:
        table = read
        if arrow_first and table is None:
            table = _read_arrow_table(path, names, delimiter)
        if table is not None:
            frame = arrow_frame(table, np.arange(2, 2 + table.num_rows))
            for start in range(0, max(len(frame), 1), chunk_rows):
                yield _drop_empty_records(frame.iloc[start : start + chunk_rows])
            return
        try:
            reader = pd.read_csv(
                path,
                sep=delimiter,
                header=0,
                names=names,
                dtype=str,
                na_filter=False,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding=encoding,
                encoding_errors="strict",
                index_col=False,
                chunksize=chunk_rows,
            )
            with reader:
                for chunk in reader:
                    chunk = _as_strings(chunk)
                    # Record i (0-based after the header) is line i + 2: header = line 1.
                    chunk.index = chunk.index + 2
                    yield _drop_empty_records(chunk)
        except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
            raise FileRejected(f"malformed CSV: {_one_line(exc)}") from exc

    return Table(names, original, chunks(), notes)


def arrow_frame(table: pa.Table, lines: np.ndarray | None = None) -> pd.DataFrame:
    """Arrow strings as a DataFrame of `TEXT` columns, indexed by line number when given."""
    frame = table.to_pandas(types_mapper=_TEXT_TYPES.get)
    if lines is not None:
        frame.index = pd.Index(lines, dtype="int64")
    return frame


def _whole_chunks(whole: pa.Table, lines: np.ndarray) -> Iterator[pd.DataFrame]:
    yield arrow_frame(whole, lines)


def _drop_empty_arrow(table: pa.Table, first_line: int = 2) -> tuple[pa.Table, np.ndarray]:
    """`_drop_empty_records` on Arrow strings: the records kept and their line numbers
    (record i of the file is line i + `first_line`)."""
    lines = np.arange(first_line, first_line + table.num_rows, dtype="int64")
    if table.num_rows == 0:
        return table, lines
    if table.num_columns and pc.min(pc.binary_length(table.column(0))).as_py() > 0:
        return table, lines  # no empty first field, so no empty record: the usual file
    filled = None
    for column in table.columns:
        here = pc.not_equal(column, "")
        filled = here if filled is None else pc.or_(filled, here)
    if pc.all(filled).as_py():
        return table, lines
    keep = filled.to_numpy(zero_copy_only=False).astype(bool)
    return table.filter(filled), lines[keep]


def _starts_with_header(path: Path) -> bool:
    """The first line holds something (no blank lines above the header)."""
    with path.open("rb") as handle:
        return handle.readline().strip(b"\xef\xbb\xbf \t\r\n") != b""


def _read_arrow_table(path: Path, names: list[str], delimiter: str) -> pa.Table | None:
    """A clean UTF-8 CSV read by Arrow as strings, or None to let pandas read it.

    Arrow refuses (and pandas then reads, and words the reason) anything that is not a plain
    rectangular table: a record with more or fewer fields, a blank line, bad UTF-8. What Arrow
    accepts it reads as pandas would: every field a string, nothing turned into a null, quotes
    doubled inside quoted fields, record i after the header being line i + 2.
    """
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


# --- Parquet ---------------------------------------------------------------------------------


def _open_parquet(path: Path, chunk_rows: int) -> Table:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        header = list(parquet.schema_arrow.names)
        small = parquet.metadata.num_rows <= chunk_rows and path.stat().st_size <= WHOLE_MAX_BYTES
        read = parquet.read() if small else None
    except Exception as exc:  # pyarrow raises several error types for a corrupt file
        raise FileRejected(f"unreadable Parquet file: {_one_line(exc)}") from exc
    original, names = _name_columns(header)
    if read is not None:
        try:
            text = pa.table([_parquet_text(column) for column in read.columns], names=names)
        except Exception as exc:
            raise FileRejected(f"unreadable Parquet file: {_one_line(exc)}") from exc
        # No header line in Parquet: row i (0-based) is reported as line i + 2, the line it
        # would have in the same table written as CSV.
        whole, lines = _drop_empty_arrow(text)
        return Table(names, original, _whole_chunks(whole, lines), [], whole, lines)

    def chunks() -> Iterator[pd.DataFrame]:
        start = 0
        try:
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                frame = pd.DataFrame(
                    {
                        name: pd.Series(_parquet_text(column), dtype=TEXT)
                        for name, column in zip(names, batch.columns, strict=True)
                    }
                )
                frame.index = pd.RangeIndex(start + 2, start + 2 + len(frame))
                start += len(frame)
                yield _drop_empty_records(frame)
        except Exception as exc:
            raise FileRejected(f"unreadable Parquet file: {_one_line(exc)}") from exc

    return Table(names, original, chunks())


def _parquet_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A Parquet column as the strings a CSV would have carried (`_parquet_value`'s spelling).

    Text, whole numbers, dates and booleans are spelled alike by Arrow's cast and by Python,
    so they are cast at once, as are floats of everyday magnitudes (`_reprs_alike`); other
    values (floats beyond them: Python's repr; timestamps) go value by value.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column.cast(pa.string())
    elif pa.types.is_integer(kind) or pa.types.is_date32(kind) or pa.types.is_boolean(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_float64(kind) and _reprs_alike(column):
        text = pc.cast(column, pa.string())
        whole = pc.invert(pc.match_substring(text, "."))  # "14" for 14.0: repr says "14.0"
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        return pc.if_else(pc.is_null(column, nan_is_null=True), "", text)
    else:
        values = [_parquet_value(value) for value in column.to_pandas().tolist()]
        return pa.array(values, type=pa.string())
    return pc.fill_null(text, "")


def _reprs_alike(column: pa.Array) -> bool:
    """Every float is zero, NaN, missing or of a magnitude from 1e-4 to 1e9, where Arrow's cast
    writes the digits of Python's repr without an exponent, as repr does (bar repr's ".0")."""
    values = np.abs(column.to_numpy(zero_copy_only=False))  # a missing value is NaN here
    return bool(np.all(np.isnan(values) | (values == 0) | ((values >= 1e-4) & (values < 1e9))))


def _parquet_value(value: object) -> str:
    """A typed Parquet value as the string a CSV would have carried."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):
        # pandas writes a missing float as NaN: an absent value, not the string "NaN".
        return "" if value != value else repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# --- XLSX ------------------------------------------------------------------------------------


def _open_xlsx(path: Path, required_columns: Sequence[str]) -> Table:
    try:
        sheets = pd.read_excel(
            path,
            sheet_name=None,
            header=None,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            engine="openpyxl",
        )
    except Exception as exc:  # openpyxl / zipfile raise many types for a corrupt workbook
        raise FileRejected(f"unreadable .xlsx file: {_one_line(exc)}") from exc
    candidates: list[tuple[str, pd.DataFrame, int]] = []
    missing_by_sheet: list[str] = []
    for sheet_name, sheet in sheets.items():
        sheet = _as_strings(sheet)
        filled = (sheet != "").any(axis=1)
        if not filled.any():
            continue
        header_row = int(filled.to_numpy().argmax())  # first non-empty row is the header
        normalised = {normalise_name(name) for name in sheet.iloc[header_row]}
        missing = [name for name in required_columns if name not in normalised]
        if not missing:
            note = [f"sheet '{sheet_name}' used"] if len(sheets) > 1 else []
            return _sheet_table(sheet, header_row, note)
        candidates.append((str(sheet_name), sheet, header_row))
        missing_by_sheet.append(f"sheet '{sheet_name}' lacks {', '.join(missing)}")
    if not candidates:
        raise FileRejected("empty file")
    if len(candidates) == 1:
        # One table in the workbook: let the caller name its missing columns like for a CSV.
        return _sheet_table(candidates[0][1], candidates[0][2], [])
    raise FileRejected("no sheet has the required columns: " + "; ".join(missing_by_sheet))


def _sheet_table(sheet: pd.DataFrame, header_row: int, notes: list[str]) -> Table:
    original, names = _name_columns(list(sheet.iloc[header_row]))
    data = sheet.iloc[header_row + 1 :].copy()
    data.columns = names
    data.index = data.index + 1  # pandas row i is Excel row i + 1
    return Table(names, original, iter([_drop_empty_records(data)]), notes)
