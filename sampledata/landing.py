"""Write a world as the landing folder of DESIGN.md ("Landing folder"), dealers block by block.

```
OUT/master/dealers.csv, skus.csv, dealer_skus.csv
OUT/master/price_list.csv, supply.csv                 dealer_network worlds only
OUT/sell_through/<dealer_id>_<YYYY-MM>.csv|parquet   one file per dealer per month
OUT/inventory/<dealer_id>_<YYYY-MM>.csv|parquet      one file per dealer per month
OUT/shipments/shipments_<YYYY-MM>.csv                one file per ship month, all dealers
OUT/truth/true_demand.parquet                        not a feed: the generator's ground truth
```

Each dealer delivers in one format (``dealers.feed_format``); dates are ISO ``YYYY-MM-DD``;
an in-transit shipment has an empty ``received_date``. ``LandingWriter`` takes the dealers in
order, block by block: a dealer's files are written whole, the monthly shipment files are
appended to (dealer by dealer) and the truth file gets one row group per dealer, so the bytes do
not depend on the block size. Files are written byte-for-byte the same for the same world.
Existing files with other names in ``out_dir`` are left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sampledata import catalog, feeds
from sampledata.world import Block, Progress, World, _say

TRUTH_COLUMNS = ["dealer_id", "sku", "date", "demand", "lost_sales", "on_hand_end"]
TRUTH_SCHEMA = pa.schema(
    [
        ("dealer_id", pa.string()),
        ("sku", pa.string()),
        ("date", pa.date32()),
        ("demand", pa.int32()),
        ("lost_sales", pa.int32()),
        ("on_hand_end", pa.int32()),
    ]
)
FEEDS = {  # feed: (columns, date column that names the month, date columns)
    "sell_through": (feeds.SELL_THROUGH_COLUMNS, "date", ["date"]),
    "inventory": (feeds.INVENTORY_COLUMNS, "snapshot_date", ["snapshot_date"]),
    "shipments": (
        feeds.SHIPMENT_COLUMNS,
        "ship_date",
        ["ship_date", "expected_date", "received_date"],
    ),
}
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none")


def _arrow(frame: pd.DataFrame, date_columns: list[str]) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        # Plain `string` and `date32` are what every Parquet reader expects.
        if field.name in date_columns:
            table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
        elif pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    # Drop the pandas metadata so the file says only what the columns say.
    return table.replace_schema_metadata(None)


def _csv_bytes(table: pa.Table, *, header: bool) -> bytes:
    """CSV as pandas writes it (floats as ``repr``: ``16.0``), at Arrow's speed."""
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            text = pc.cast(table.column(i), pa.string())
            whole = pc.match_substring_regex(text, r"^-?\d+$")
            text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
            table = table.set_column(i, field.name, text)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _CSV_OPTIONS)
    head = (",".join(table.column_names) + "\n").encode() if header else b""
    return head + sink.getvalue().to_pybytes()


def _runs(*keys: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of rows whose keys stay the same."""
    n = len(keys[0])
    if n == 0:
        return []
    change = np.zeros(n - 1, dtype=bool)
    for key in keys:
        change |= key[1:] != key[:-1]
    edges = np.concatenate([[0], np.flatnonzero(change) + 1, [n]])
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _months(table: pa.Table, column: str) -> np.ndarray:
    days = table.column(column).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    return days.astype("datetime64[M]")


class LandingWriter:
    """Write a landing folder dealer block by dealer block (``with LandingWriter(out) as w``).

    Call ``write_block`` for every block in dealer order, ``write_master`` once; ``counts``
    then holds what ``write_landing`` returns.
    """

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        for folder in ("master", *FEEDS, "truth"):
            (self.out_dir / folder).mkdir(parents=True, exist_ok=True)
        self.files = {"master": 0, "sell_through": 0, "inventory": 0, "shipments": 0, "truth": 0}
        self.rows = dict.fromkeys(
            ["dealers", "skus", "dealer_skus", "sell_through", "inventory", "shipments"], 0
        )
        self.rows["true_demand"] = 0
        self._shipment_months: set[str] = set()
        self._truth: pq.ParquetWriter | None = None
        self._sku_ids: pa.Array | None = None

    def __enter__(self) -> LandingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._truth is not None:
            self._truth.close()
            self._truth = None

    @property
    def counts(self) -> dict:
        return {"out_dir": str(self.out_dir), "files": dict(self.files), "rows": dict(self.rows)}

    def write_master(
        self,
        dealers: pd.DataFrame,
        skus: pd.DataFrame,
        dealer_skus: pd.DataFrame,
        *,
        price_list: pd.DataFrame | None = None,
        supply: pd.DataFrame | None = None,
    ) -> None:
        master = self.out_dir / "master"
        dealers[catalog.DEALER_COLUMNS].to_csv(
            master / "dealers.csv", index=False, lineterminator="\n"
        )
        skus[catalog.SKU_COLUMNS].to_csv(master / "skus.csv", index=False, lineterminator="\n")
        overrides = dealer_skus[catalog.DEALER_SKU_COLUMNS].copy()
        overrides["active"] = np.where(overrides["active"].to_numpy(dtype=bool), "true", "false")
        overrides.to_csv(master / "dealer_skus.csv", index=False, lineterminator="\n")
        self.files["master"] = 3
        self.rows.update(dealers=len(dealers), skus=len(skus), dealer_skus=len(dealer_skus))
        for name, frame in (("price_list", price_list), ("supply", supply)):
            if frame is not None:
                frame.to_csv(master / f"{name}.csv", index=False, lineterminator="\n")
                self.files["master"] += 1
                self.rows[name] = len(frame)

    def write_block(self, block: Block, skus: pd.DataFrame) -> None:
        """Every file of the block's dealers, their shipment lines and their truth rows."""
        formats = dict(zip(block.dealers["dealer_id"], block.dealers["feed_format"], strict=True))
        for feed in ("sell_through", "inventory"):
            self._write_dealer_months(feed, getattr(block, feed), formats)
        self._append_shipments(block.shipments)
        self._write_truth(block, skus)

    def _write_dealer_months(self, feed: str, frame: pd.DataFrame, formats: dict) -> None:
        columns, month_column, date_columns = FEEDS[feed]
        table = _arrow(frame[columns], date_columns)
        dealer_ids = table.column("dealer_id").to_numpy(zero_copy_only=False)
        months = _months(table, month_column)
        for first, stop in _runs(dealer_ids, months):
            dealer_id, ym = dealer_ids[first], str(months[first])
            part = table.slice(first, stop - first)
            path = self.out_dir / feed / f"{dealer_id}_{ym}.{formats[dealer_id]}"
            if formats[dealer_id] == "parquet":
                pq.write_table(part, path, compression="zstd")
            else:
                path.write_bytes(_csv_bytes(part, header=True))
            self.files[feed] += 1
        self.rows[feed] += len(table)

    def _append_shipments(self, frame: pd.DataFrame) -> None:
        columns, month_column, date_columns = FEEDS["shipments"]
        table = _arrow(frame[columns], date_columns)
        months = _months(table, month_column)
        order = np.argsort(months, kind="stable")  # by month, dealers still in order
        table, months = table.take(order), months[order]
        for first, stop in _runs(months):
            ym = str(months[first])
            new = ym not in self._shipment_months
            self._shipment_months.add(ym)
            data = _csv_bytes(table.slice(first, stop - first), header=new)
            path = self.out_dir / "shipments" / f"shipments_{ym}.csv"
            with path.open("wb" if new else "ab") as out:
                out.write(data)
        self.files["shipments"] = len(self._shipment_months)
        self.rows["shipments"] += len(table)

    def _write_truth(self, block: Block, skus: pd.DataFrame) -> None:
        """One row group per dealer: per carried SKU, every day."""
        if self._truth is None:
            path = self.out_dir / "truth" / "true_demand.parquet"
            self._truth = pq.ParquetWriter(path, TRUTH_SCHEMA, compression="zstd")
            self._sku_ids = pa.array(skus["sku"].to_numpy(dtype=object), pa.string())
            self.files["truth"] = 1
        n_t = block.demand.shape[2]
        dates = pa.array(np.asarray(block.dates, dtype="datetime64[D]"), pa.date32())
        for d, dealer_id in enumerate(block.dealers["dealer_id"]):
            s_idx = np.flatnonzero(block.carried[d])
            n = len(s_idx) * n_t
            columns = [
                pa.repeat(pa.scalar(dealer_id, pa.string()), n),
                self._sku_ids.take(pa.array(np.repeat(s_idx, n_t))),
                pa.concat_arrays([dates] * len(s_idx)) if len(s_idx) else dates.slice(0, 0),
                pa.array(block.demand[d, s_idx].ravel()),
                pa.array(block.supply.lost_sales[d, s_idx].ravel()),
                pa.array(block.supply.on_hand_end[d, s_idx].ravel()),
            ]
            self._truth.write_table(pa.Table.from_arrays(columns, schema=TRUTH_SCHEMA))
            self.rows["true_demand"] += n


def write_landing(world: World, out_dir: Path, *, progress: Progress = None) -> dict:
    """Write the landing folder and the truth file for ``world``.

    Parameters
    ----------
    world : World
        From ``sampledata.world.build_world``.
    out_dir : pathlib.Path
        Folder to write into (created when missing).
    progress : callable, optional
        Called with a short message per step.

    Returns
    -------
    dict
        ``{"out_dir": str, "files": {feed: n_files}, "rows": {table: n_rows}}`` with feeds
        ``master``, ``sell_through``, ``inventory``, ``shipments``, ``truth`` and tables
        ``dealers``, ``skus``, ``dealer_skus``, ``sell_through``, ``inventory``, ``shipments``,
        ``true_demand``.
    """
    block = Block(
        start=0,
        stop=len(world.dealers),
        dates=world.dates,
        dealers=world.dealers,
        carried=world.params.carried,
        demand=world.demand,
        supply=world.supply,
        sell_through=world.sell_through,
        inventory=world.inventory,
        shipments=world.shipments,
    )
    with LandingWriter(out_dir) as writer:
        _say(progress, f"writing the feeds and the truth file to {writer.out_dir}")
        writer.write_block(block, world.skus)
        _say(progress, f"writing master data to {writer.out_dir / 'master'}")
        writer.write_master(
            world.dealers,
            world.skus,
            world.dealer_skus,
            price_list=world.price_list,
            supply=world.supply_caps,
        )
    return writer.counts
