"""The feed schema, defined once: each feed's folder, columns, kinds and key, and the raw tables.

Everything else about a feed is generated from this module or checked against it:

- the `raw` table DDL: `raw_tables()` (the feed tables with their lineage columns, plus
  `file_ledger` and `quarantine`), which warehouse/ turns into `create table` statements;
- type coercion (landing/validate.py `coerce`) reads each column's kind;
- the required header columns (`Feed.required_columns`) and the unique key (`Feed.key`);
- tests/landing/test_schema_contract.py checks the GX suites, the dbt sources yml and
  docs/feeds.md against it.

Adding a feed column:

1. Here: add a `Column` (name, kind, whether the header must contain it) to its feed. The raw
   DDL follows by itself; an existing warehouse file gains the column at its next ingest
   (`warehouse.connection.ensure_tables` adds declared columns a table lacks, empty in old rows).
2. A row rule for it (a range, a not-null, a set): an expectation in
   expectations/gx/expectations/<feed>.json with `"meta": {"rule": "<short_name>"}`; its
   position in the file sets its precedence. A key column also goes into the suite's
   `expect_compound_columns_to_be_unique` after `source_file`.
3. dbt: the column in dbt_project/models/staging/vmi/_vmi__sources.yml and in the feed's staging
   model (stg_vmi__<feed>.sql, cast to its type) and its yml.
4. docs/feeds.md: its row in the column table under "Columns and rules".

Then run `pytest tests/landing/test_schema_contract.py`: it names whatever is still out of step.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds and the coercion each gets (landing/validate.py `coerce`).
STRING, NUMBER, INTEGER, DATE, BOOLEAN = "string", "number", "integer", "date", "boolean"

# The DuckDB type a column of each kind is stored as in its raw table.
DUCKDB_TYPES: dict[str, str] = {
    STRING: "VARCHAR",
    NUMBER: "DOUBLE",
    INTEGER: "INTEGER",
    DATE: "DATE",
    BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    """One feed column: its canonical name, kind and whether the header must contain it."""

    name: str
    kind: str = STRING
    required: bool = True

    def __post_init__(self) -> None:
        if self.kind not in DUCKDB_TYPES:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.kind]


@dataclass(frozen=True)
class RawColumn:
    """A column of a raw table as DuckDB stores it (lineage, ledger and quarantine columns)."""

    name: str
    duckdb_type: str
    primary_key: bool = False

    @property
    def ddl(self) -> str:
        """`"name" TYPE [PRIMARY KEY]`; the name is always quoted (`column` is an SQL keyword)."""
        quoted = '"' + self.name.replace('"', '""') + '"'
        return f"{quoted} {self.duckdb_type}" + (" PRIMARY KEY" if self.primary_key else "")


# Lineage columns every raw feed row carries, after the feed's own columns (docs/feeds.md).
LINEAGE: tuple[RawColumn, ...] = (
    RawColumn("file_sha256", "VARCHAR"),
    RawColumn("source_file", "VARCHAR"),
    RawColumn("line", "INTEGER"),
    RawColumn("delivery_seq", "BIGINT"),
    RawColumn("run_id", "VARCHAR"),
    RawColumn("loaded_at", "TIMESTAMP"),
)
LINEAGE_COLUMNS: tuple[str, ...] = tuple(column.name for column in LINEAGE)


@dataclass(frozen=True)
class Feed:
    """A feed kind: raw table name (= GX suite name), landing folder, columns and unique key.

    `key` names the columns that identify a row within one delivery: the GX suite's
    `duplicate_key` rule checks them (after `source_file`), and ingest looks for the duplicates
    that fall in different chunks of a large file by them.
    """

    name: str
    folder: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = self.column_names
        if len(set(names)) != len(names):
            raise ValueError(f"feed {self.name}: duplicate column names {names}")
        clash = set(names) & set(LINEAGE_COLUMNS)
        if clash:
            raise ValueError(f"feed {self.name}: columns {sorted(clash)} are lineage columns")
        unknown = [name for name in self.key if name not in names]
        if unknown:
            raise ValueError(f"feed {self.name}: key columns {unknown} are not feed columns")

    @property
    def is_master(self) -> bool:
        return self.folder == "master"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.required]

    @property
    def raw_columns(self) -> tuple[RawColumn, ...]:
        """The columns of the feed's raw table: the feed's own, then the lineage columns."""
        own = tuple(RawColumn(column.name, column.duckdb_type) for column in self.columns)
        return own + LINEAGE


def _columns(*specs: tuple) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


DEALERS = Feed(
    "dealers",
    "master",
    _columns(
        ("dealer_id",),
        ("dealer_name",),
        ("region",),
        ("territory",),
        ("lead_time_days", NUMBER),
        ("lead_time_sd_days", NUMBER),
        ("review_period_days", INTEGER),
        ("tier", STRING, False),
    ),
    key=("dealer_id",),
)
SKUS = Feed(
    "skus",
    "master",
    _columns(
        ("sku",),
        ("description",),
        ("category",),
        ("unit_cost", NUMBER),
        ("pack_size", INTEGER),
        ("moq", INTEGER),
        ("abc_class", STRING, False),
    ),
    key=("sku",),
)
DEALER_SKUS = Feed(
    "dealer_skus",
    "master",
    _columns(
        ("dealer_id",),
        ("sku",),
        ("service_level", NUMBER, False),
        ("min_qty", NUMBER, False),
        ("max_qty", NUMBER, False),
        ("active", BOOLEAN, False),
    ),
    key=("dealer_id", "sku"),
)
SELL_THROUGH = Feed(
    "sell_through",
    "sell_through",
    _columns(
        ("dealer_id",),
        ("sku",),
        ("date", DATE),
        ("qty_sold", NUMBER),
        ("unit_price", NUMBER, False),
        ("customer_region", STRING, False),
    ),
    key=("dealer_id", "sku", "date"),
)
INVENTORY = Feed(
    "inventory",
    "inventory",
    _columns(("dealer_id",), ("sku",), ("snapshot_date", DATE), ("on_hand", NUMBER)),
    key=("dealer_id", "sku", "snapshot_date"),
)
SHIPMENTS = Feed(
    "shipments",
    "shipments",
    _columns(
        ("shipment_id",),
        ("dealer_id",),
        ("sku",),
        ("ship_date", DATE),
        ("expected_date", DATE),
        ("received_date", DATE),
        ("qty", NUMBER),
    ),
    key=("shipment_id", "sku"),
)

# Optional master files (DESIGN.md "Dealer management"): the manufacturer's price list (a row per
# SKU and date it takes effect) and the supply it can ship (a row per SKU and stock date).
PRICE_LIST = Feed(
    "price_list",
    "master",
    _columns(("sku",), ("list_price", NUMBER), ("valid_from", DATE)),
    key=("sku", "valid_from"),
)
SUPPLY = Feed(
    "supply",
    "master",
    _columns(("sku",), ("available_qty", NUMBER), ("as_of", DATE)),
    key=("sku", "as_of"),
)

# Ingest order: master data first (it defines the known dealers and SKUs), then the feeds.
FEEDS: tuple[Feed, ...] = (
    DEALERS,
    SKUS,
    DEALER_SKUS,
    PRICE_LIST,
    SUPPLY,
    SELL_THROUGH,
    INVENTORY,
    SHIPMENTS,
)
FEEDS_BY_NAME: dict[str, Feed] = {feed.name: feed for feed in FEEDS}
FEED_FOLDERS: tuple[str, ...] = ("sell_through", "inventory", "shipments")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".xlsx")

# The words a person may write for a boolean, in any file the project reads (feeds, overrides,
# published CSVs); compared after trimming and lower-casing.
TRUE_WORDS: frozenset[str] = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "f", "no", "n", "0", "0.0"})

# The other raw tables landing writes: one ledger row per delivered file (content hash), one
# quarantine row per rejected row (DESIGN.md `quarantine.csv` has the same columns).
FILE_LEDGER: tuple[RawColumn, ...] = (
    RawColumn("file_sha256", "VARCHAR", primary_key=True),
    RawColumn("source_file", "VARCHAR"),
    RawColumn("feed", "VARCHAR"),
    RawColumn("status", "VARCHAR"),
    RawColumn("size_bytes", "BIGINT"),
    RawColumn("rows_read", "INTEGER"),
    RawColumn("rows_accepted", "INTEGER"),
    RawColumn("rows_quarantined", "INTEGER"),
    RawColumn("reason", "VARCHAR"),
    RawColumn("delivery_seq", "BIGINT"),
    RawColumn("run_id", "VARCHAR"),
    RawColumn("received_at", "TIMESTAMP"),
)
QUARANTINE: tuple[RawColumn, ...] = (
    RawColumn("run_id", "VARCHAR"),
    RawColumn("source_file", "VARCHAR"),
    RawColumn("line", "INTEGER"),
    RawColumn("rule", "VARCHAR"),
    RawColumn("column", "VARCHAR"),
    RawColumn("value", "VARCHAR"),
    RawColumn("raw_record", "VARCHAR"),
)
QUARANTINE_COLUMNS: list[str] = [column.name for column in QUARANTINE]


def raw_tables() -> dict[str, str]:
    """The raw tables landing owns and the column DDL of each: `'"name" TYPE, ...'`.

    The feed tables (in `FEEDS` order: the feed's columns, then the lineage columns), then
    `file_ledger` and `quarantine`. The caller wraps each in `create table raw.<name> (...)`.
    """
    tables = {feed.name: feed.raw_columns for feed in FEEDS}
    tables["file_ledger"] = FILE_LEDGER
    tables["quarantine"] = QUARANTINE
    return {name: ", ".join(column.ddl for column in columns) for name, columns in tables.items()}


def master_feed_for(stem: str) -> Feed | None:
    """The master feed a file under master/ holds, from its name (`dealers.csv` -> dealers)."""
    feed = FEEDS_BY_NAME.get(stem.strip().lower())
    return feed if feed is not None and feed.is_master else None
