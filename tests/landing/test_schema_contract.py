"""landing/schema.py is the one definition of the feeds; everything else must agree with it.

Each test reads another place that states the same facts (the raw DDL as DuckDB creates it, the
GX suites, the dbt sources yml, docs/feeds.md) and fails, naming the feed and the difference,
when that place has drifted from the schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml

from landing.schema import (
    BOOLEAN,
    DATE,
    FEEDS,
    FILE_LEDGER,
    INTEGER,
    LINEAGE_COLUMNS,
    NUMBER,
    QUARANTINE,
    QUARANTINE_COLUMNS,
    STRING,
    Column,
    Feed,
    raw_tables,
)

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "expectations" / "gx" / "expectations"
SOURCES_YML = ROOT / "dbt_project" / "models" / "staging" / "vmi" / "_vmi__sources.yml"
FEEDS_DOC = ROOT / "docs" / "feeds.md"

# Written out here rather than imported, so that a wrong type in landing/schema.py shows up as a
# difference against what DuckDB reports.
DUCKDB_TYPE_OF_KIND = {
    STRING: "VARCHAR",
    NUMBER: "DOUBLE",
    INTEGER: "INTEGER",
    DATE: "DATE",
    BOOLEAN: "BOOLEAN",
}
# The lineage every raw feed row carries; dbt's staging models and the restatement rule rely on it.
LINEAGE_TYPES = [
    ("file_sha256", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("line", "INTEGER"),
    ("delivery_seq", "BIGINT"),
    ("run_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
]
# DESIGN.md "Outputs": the columns of quarantine.csv, which are raw.quarantine's.
DESIGN_QUARANTINE_COLUMNS = [
    "run_id",
    "source_file",
    "line",
    "rule",
    "column",
    "value",
    "raw_record",
]

by_feed = pytest.mark.parametrize("feed", FEEDS, ids=[feed.name for feed in FEEDS])


def expected_raw_columns(feed: Feed) -> list[tuple[str, str]]:
    own = [(column.name, DUCKDB_TYPE_OF_KIND[column.kind]) for column in feed.columns]
    return own + LINEAGE_TYPES


# --- the raw DDL, through DuckDB ---------------------------------------------------------------


def described_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        """
        select table_name, column_name, data_type
        from information_schema.columns
        where table_schema = 'raw'
        order by table_name, ordinal_position
        """
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def primary_keys(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        """
        select table_name, constraint_column_names
        from duckdb_constraints()
        where schema_name = 'raw' and constraint_type = 'PRIMARY KEY'
        """
    ).fetchall()
    return {table: list(columns) for table, columns in rows}


@pytest.fixture(scope="module")
def generated() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw")
    for name, columns in raw_tables().items():
        con.execute(f"create table raw.{name} ({columns})")
    yield con
    con.close()


def test_raw_tables_are_the_feeds_the_ledger_and_the_quarantine():
    assert list(raw_tables()) == [feed.name for feed in FEEDS] + ["file_ledger", "quarantine"]


@by_feed
def test_generated_feed_table_has_the_feed_columns_then_lineage(generated, feed):
    assert described_tables(generated)[feed.name] == expected_raw_columns(feed)


def test_generated_ledger_and_quarantine_match_their_declarations(generated):
    tables = described_tables(generated)
    assert tables["file_ledger"] == [(c.name, c.duckdb_type) for c in FILE_LEDGER]
    assert tables["quarantine"] == [(c.name, c.duckdb_type) for c in QUARANTINE]
    # The ledger's hash is its primary key: a re-delivered file cannot get a second row.
    assert primary_keys(generated) == {"file_ledger": ["file_sha256"]}


def test_quarantine_columns_are_the_published_quarantine_csv_columns(generated):
    assert QUARANTINE_COLUMNS == DESIGN_QUARANTINE_COLUMNS
    assert [name for name, _ in described_tables(generated)["quarantine"]] == QUARANTINE_COLUMNS


def test_a_feed_declaration_that_contradicts_itself_is_refused():
    with pytest.raises(ValueError, match="key columns"):
        Feed("f", "f", (Column("a"),), key=("b",))
    with pytest.raises(ValueError, match="lineage"):
        Feed("f", "f", (Column("a"), Column("run_id")))
    with pytest.raises(ValueError, match="kind"):
        Column("a", "text")


# --- Great Expectations suites -----------------------------------------------------------------


def suite_of(feed: Feed) -> list[dict]:
    path = SUITES / f"{feed.name}.json"
    assert path.is_file(), f"no GX suite for feed {feed.name}: {path}"
    document = json.loads(path.read_text())
    assert document["name"] == feed.name, path
    return document["expectations"]


def columns_named(expectation: dict) -> list[str]:
    kwargs = expectation["kwargs"]
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    raise AssertionError(f"no column in expectation {expectation['type']}: {kwargs}")


def of_type(expectations: list[dict], kind: str) -> list[dict]:
    return [e for e in expectations if e["type"] == kind]


def is_parameter(value: object) -> bool:
    return isinstance(value, dict) and "$PARAMETER" in value


NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
LENGTHS = "expect_column_value_lengths_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
UNIQUE = "expect_compound_columns_to_be_unique"


@by_feed
def test_suite_names_only_columns_of_its_feed(feed):
    for expectation in suite_of(feed):
        names = columns_named(expectation)
        if expectation["type"] == UNIQUE:
            # The frame validated holds many files; the key is unique per delivered file.
            assert names[0] == "source_file", expectation
            names = names[1:]
        unknown = [name for name in names if name not in feed.column_names]
        assert not unknown, f"{feed.name}.json names {unknown}, not columns of the feed"


@by_feed
def test_suite_duplicate_key_rule_is_the_feed_key(feed):
    rules = of_type(suite_of(feed), UNIQUE)
    assert [rule["kwargs"]["column_list"] for rule in rules] == [["source_file", *feed.key]]
    assert rules[0]["meta"]["rule"] == "duplicate_key"


@by_feed
def test_suite_not_null_rules_cover_the_key_and_only_required_columns(feed):
    not_null = {rule["kwargs"]["column"] for rule in of_type(suite_of(feed), NOT_NULL)}
    assert set(feed.key) <= not_null, f"{feed.name}: key columns without a not_null rule"
    # An optional column missing from a file is all null: a not_null rule would reject the file.
    optional = not_null - set(feed.required_columns)
    assert not optional, f"{feed.name}: not_null on optional columns {sorted(optional)}"


@by_feed
def test_suite_rules_fit_the_kinds_of_their_columns(feed):
    kind = {column.name: column.kind for column in feed.columns}
    for expectation in suite_of(feed):
        kwargs, rule = expectation["kwargs"], expectation["type"]
        if rule == BETWEEN:
            bounds = [kwargs[k] for k in ("min_value", "max_value") if k in kwargs]
            assert bounds, expectation
            if all(is_parameter(bound) for bound in bounds):
                # validate_frame passes dates for these and splits failures by the rule name.
                assert kind[kwargs["column"]] == DATE, expectation
                assert expectation["meta"]["rule"] == "date_range", expectation
            else:
                assert all(isinstance(bound, int | float) for bound in bounds), expectation
                assert kind[kwargs["column"]] in (NUMBER, INTEGER), expectation
        elif rule == LENGTHS:
            assert kind[kwargs["column"]] == STRING, expectation
        elif rule == IN_SET:
            assert kind[kwargs["column"]] == STRING, expectation
            value_set = kwargs["value_set"]
            if is_parameter(value_set):
                # validate_frame fills these from the dealer_id and sku columns of the frame.
                expected = {"known_dealers": "dealer_id", "known_skus": "sku"}
                assert expected[value_set["$PARAMETER"]] == kwargs["column"], expectation
        elif rule == PAIR:
            kinds = {kind[kwargs["column_A"]], kind[kwargs["column_B"]]}
            assert len(kinds) == 1 and kinds <= {NUMBER, INTEGER, DATE}, expectation
        else:
            assert rule in (NOT_NULL, UNIQUE), f"{feed.name}: no kind check for {rule} here yet"


@by_feed
def test_every_date_column_has_a_date_range_rule(feed):
    ranged = {
        rule["kwargs"]["column"]
        for rule in of_type(suite_of(feed), BETWEEN)
        if rule["meta"].get("rule") == "date_range"
    }
    dates = {column.name for column in feed.columns if column.kind == DATE}
    assert dates == ranged, f"{feed.name}: date columns {sorted(dates)}, ranged {sorted(ranged)}"


# --- dbt sources -------------------------------------------------------------------------------


def source_tables() -> dict[str, dict]:
    document = yaml.safe_load(SOURCES_YML.read_text())
    (vmi,) = [source for source in document["sources"] if source["name"] == "vmi"]
    assert vmi["schema"] == "raw"
    return {table["name"]: table for table in vmi["tables"]}


@by_feed
def test_dbt_source_lists_the_feed_columns_then_lineage(feed):
    table = source_tables().get(feed.name)
    assert table is not None, f"{SOURCES_YML.name} has no table {feed.name}"
    columns = table.get("columns") or []
    names = [column["name"] for column in columns]
    assert names == feed.column_names + list(LINEAGE_COLUMNS), f"{SOURCES_YML.name}: {feed.name}"
    undescribed = [column["name"] for column in columns if not column.get("description")]
    assert not undescribed, f"{SOURCES_YML.name}: {feed.name} columns without a description"


# --- docs/feeds.md -----------------------------------------------------------------------------

DOC_TABLE_HEADER = "| feed | column | kind | required | key |"


def documented_columns() -> dict[str, list[tuple[str, str, bool, bool]]]:
    """The rows of the column table in docs/feeds.md, per feed, in document order."""
    lines = FEEDS_DOC.read_text().splitlines()
    assert lines.count(DOC_TABLE_HEADER) == 1, f"docs/feeds.md: one table {DOC_TABLE_HEADER!r}"
    start = lines.index(DOC_TABLE_HEADER) + 2  # the header, then the |---| line
    documented: dict[str, list[tuple[str, str, bool, bool]]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 5, f"docs/feeds.md: bad row {line!r}"
        feed, column, kind, required, key = cells
        assert {required, key} <= {"yes", "-"}, f"docs/feeds.md: write yes or - in {line!r}"
        documented.setdefault(feed, []).append((column, kind, required == "yes", key == "yes"))
    return documented


def test_docs_list_exactly_the_feeds():
    assert list(documented_columns()) == [feed.name for feed in FEEDS]


@by_feed
def test_docs_document_each_column_kind_requirement_and_key(feed):
    declared = [
        (column.name, column.kind, column.required, column.name in feed.key)
        for column in feed.columns
    ]
    assert documented_columns().get(feed.name) == declared, f"docs/feeds.md: {feed.name}"
