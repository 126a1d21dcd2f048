"""Write a world as the landing folder of DESIGN.md ("Landing folder").

```
OUT/master/dealers.csv, skus.csv, dealer_skus.csv
OUT/sell_through/<dealer_id>_<YYYY-MM>.csv|parquet   one file per dealer per month
OUT/inventory/<dealer_id>_<YYYY-MM>.csv|parquet      one file per dealer per month
OUT/shipments/shipments_<YYYY-MM>.csv                one file per ship month, all dealers
OUT/truth/true_demand.parquet                        not a feed: the generator's ground truth
```

Each dealer delivers in one format (``dealers.feed_format``); dates are ISO ``YYYY-MM-DD``;
an in-transit shipment has an empty ``received_date``. Files are written byte-for-byte the same
for the same world. Existing files with other names in ``out_dir`` are left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sampledata import catalog, feeds
from sampledata.world import Progress, World, _say

TRUTH_COLUMNS = ["dealer_id", "sku", "date", "demand", "lost_sales", "on_hand_end"]


def _iso(values: pd.Series) -> np.ndarray:
    text = np.datetime_as_string(values.to_numpy().astype("datetime64[D]"), unit="D")
    return np.where(text == "NaT", "", text)


def _write_csv(frame: pd.DataFrame, path: Path, date_columns: list[str]) -> None:
    out = frame.copy()
    for col in date_columns:
        out[col] = _iso(out[col])
    out.to_csv(path, index=False, lineterminator="\n")


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


def _write_parquet(frame: pd.DataFrame, path: Path, date_columns: list[str]) -> None:
    pq.write_table(_arrow(frame, date_columns), path, compression="zstd")


def _write_monthly(
    frame: pd.DataFrame,
    folder: Path,
    *,
    date_column: str,
    date_columns: list[str],
    formats: dict[str, str] | None,
) -> int:
    """Write one file per dealer per month (``formats`` given) or per month (all dealers)."""
    folder.mkdir(parents=True, exist_ok=True)
    month = frame[date_column].to_numpy().astype("datetime64[M]").astype(str)
    keys = [frame["dealer_id"].to_numpy(), month] if formats is not None else [month]
    written = 0
    for key, part in frame.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        if formats is not None:
            dealer_id, ym = key
            fmt = formats[dealer_id]
            path = folder / f"{dealer_id}_{ym}.{fmt}"
        else:
            (ym,), fmt = key, "csv"
            path = folder / f"{folder.name}_{ym}.csv"
        if fmt == "parquet":
            _write_parquet(part, path, date_columns)
        else:
            _write_csv(part, path, date_columns)
        written += 1
    return written


def write_landing(world: World, out_dir: Path, *, progress: Progress = None) -> dict:
    """Write the landing folder and the truth file for ``world``.

    Parameters
    ----------
    world : World
        From ``sampledata.world.build_world``.
    out_dir : pathlib.Path
        Folder to write into (created when missing).
    progress : callable, optional
        Called with a short message per feed.

    Returns
    -------
    dict
        ``{"out_dir": str, "files": {feed: n_files}, "rows": {table: n_rows}}`` with feeds
        ``master``, ``sell_through``, ``inventory``, ``shipments``, ``truth`` and tables
        ``dealers``, ``skus``, ``dealer_skus``, ``sell_through``, ``inventory``, ``shipments``,
        ``true_demand``.
    """
    out_dir = Path(out_dir)
    master = out_dir / "master"
    master.mkdir(parents=True, exist_ok=True)
    _say(progress, f"writing master data to {master}")
    world.dealers[catalog.DEALER_COLUMNS].to_csv(
        master / "dealers.csv", index=False, lineterminator="\n"
    )
    world.skus[catalog.SKU_COLUMNS].to_csv(master / "skus.csv", index=False, lineterminator="\n")
    overrides = world.dealer_skus[catalog.DEALER_SKU_COLUMNS].copy()
    overrides["active"] = np.where(overrides["active"].to_numpy(dtype=bool), "true", "false")
    overrides.to_csv(master / "dealer_skus.csv", index=False, lineterminator="\n")

    formats = dict(zip(world.dealers["dealer_id"], world.dealers["feed_format"], strict=True))
    files = {"master": 3}
    _say(progress, f"writing {len(world.sell_through)} sell-through rows")
    files["sell_through"] = _write_monthly(
        world.sell_through[feeds.SELL_THROUGH_COLUMNS],
        out_dir / "sell_through",
        date_column="date",
        date_columns=["date"],
        formats=formats,
    )
    _say(progress, f"writing {len(world.inventory)} inventory snapshots")
    files["inventory"] = _write_monthly(
        world.inventory[feeds.INVENTORY_COLUMNS],
        out_dir / "inventory",
        date_column="snapshot_date",
        date_columns=["snapshot_date"],
        formats=formats,
    )
    _say(progress, f"writing {len(world.shipments)} shipment lines")
    files["shipments"] = _write_monthly(
        world.shipments[feeds.SHIPMENT_COLUMNS],
        out_dir / "shipments",
        date_column="ship_date",
        date_columns=["ship_date", "expected_date", "received_date"],
        formats=None,
    )

    _say(progress, "writing truth/true_demand.parquet")
    truth_dir = out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth = world.true_demand_frame()[TRUTH_COLUMNS]
    pq.write_table(_arrow(truth, ["date"]), truth_dir / "true_demand.parquet", compression="zstd")
    files["truth"] = 1

    return {
        "out_dir": str(out_dir),
        "files": files,
        "rows": {
            "dealers": len(world.dealers),
            "skus": len(world.skus),
            "dealer_skus": len(world.dealer_skus),
            "sell_through": len(world.sell_through),
            "inventory": len(world.inventory),
            "shipments": len(world.shipments),
            "true_demand": len(truth),
        },
    }
