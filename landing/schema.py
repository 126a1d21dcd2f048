"""Feed schemas: which folder a feed lands in, its columns and their types.

This is the one place to add a feed column: add it here (name, kind, whether the column must be
present), add it to the `raw` table DDL in flows/warehouse.py, and add any row rule to the feed's
Great Expectations suite in expectations/gx/expectations/<feed>.json.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds and the coercion each gets (flows/validate.py `coerce`).
STRING, NUMBER, INTEGER, DATE, BOOLEAN = "string", "number", "integer", "date", "boolean"


@dataclass(frozen=True)
class Column:
    """One feed column: its canonical name, kind and whether the header must contain it."""

    name: str
    kind: str = STRING
    required: bool = True


@dataclass(frozen=True)
class Feed:
    """A feed kind: raw table name (= GX suite name), landing folder and columns."""

    name: str
    folder: str
    columns: tuple[Column, ...]

    @property
    def is_master(self) -> bool:
        return self.folder == "master"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.required]


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
    ),
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
)
INVENTORY = Feed(
    "inventory",
    "inventory",
    _columns(("dealer_id",), ("sku",), ("snapshot_date", DATE), ("on_hand", NUMBER)),
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
)

# Ingest order: master data first (it defines the known dealers and SKUs), then the feeds.
FEEDS: tuple[Feed, ...] = (DEALERS, SKUS, DEALER_SKUS, SELL_THROUGH, INVENTORY, SHIPMENTS)
FEEDS_BY_NAME: dict[str, Feed] = {feed.name: feed for feed in FEEDS}
FEED_FOLDERS: tuple[str, ...] = ("sell_through", "inventory", "shipments")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet", ".xlsx")

# The words a person may write for a boolean, in any file the project reads (feeds, overrides,
# published CSVs); compared after trimming and lower-casing.
TRUE_WORDS: frozenset[str] = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS: frozenset[str] = frozenset({"false", "f", "no", "n", "0", "0.0"})

# Lineage columns every raw feed row carries (docs/architecture.md).
LINEAGE_COLUMNS: tuple[str, ...] = (
    "file_sha256",
    "source_file",
    "line",
    "delivery_seq",
    "run_id",
    "loaded_at",
)


def master_feed_for(stem: str) -> Feed | None:
    """The master feed a file under master/ holds, from its name (`dealers.csv` -> dealers)."""
    feed = FEEDS_BY_NAME.get(stem.strip().lower())
    return feed if feed is not None and feed.is_master else None
