"""Dealer-facing order files: the approved lines with the stock cover they buy.

After `vmi approve`, each dealer gets one CSV and one XLSX under ``run_dir/exports/`` with
its lines to ship and, per line, how many days of demand its stock covers before and after the
order arrives, so a dealer can see why a quantity is what it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from planner.run_folder import (
    EXPORT_COLUMNS,
    EXPORTS_DIR,
    ORDER_COLUMNS,
    ORDERS_DIR,
    atomic_dir,
    lines_with_items,
    order_file_name,
)


def dealer_export_frame(run_dir: Path) -> pd.DataFrame:
    """Approved order lines of every dealer, joined with their stock and demand.

    Parameters
    ----------
    run_dir : Path
        An approved run folder (``orders/`` written by `planner.approve.approve_run`).

    Returns
    -------
    pandas.DataFrame
        ``EXPORT_COLUMNS``. ``days_cover_before = inventory_position / avg_daily_demand``
        (on hand + in transit + on order - backorders, in days of average demand);
        ``days_cover_after`` adds the approved ``qty``. Both are empty where the average
        daily demand is 0 (no finite cover).

    Raises
    ------
    FileNotFoundError
        The run has not been approved yet.
    """
    run_dir = Path(run_dir)
    orders_dir = run_dir / ORDERS_DIR
    if not orders_dir.is_dir():
        raise FileNotFoundError(f"{orders_dir}: not approved yet (run `vmi approve` first)")
    parts = [
        pd.read_csv(
            path,
            dtype={"dealer_id": str, "sku": str, "note": str},
            keep_default_na=False,
            na_values={"qty": [""], "suggested_qty": [""]},
        )
        for path in sorted(orders_dir.glob("*.csv"))
    ]
    orders = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ORDER_COLUMNS)
    lines = lines_with_items(run_dir)
    frame = orders.drop(columns=["suggested_qty"]).merge(
        lines, on=["dealer_id", "sku"], how="left", validate="one_to_one"
    )
    demand = frame["avg_daily_demand"].astype(float)
    position = frame["inventory_position"].astype(float)
    qty = frame["qty"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["days_cover_before"] = np.where(demand > 0, position / demand, np.nan)
        frame["days_cover_after"] = np.where(demand > 0, (position + qty) / demand, np.nan)
    frame["line_value"] = qty * frame["unit_cost"]
    frame["days_cover_before"] = frame["days_cover_before"].round(1)
    frame["days_cover_after"] = frame["days_cover_after"].round(1)
    return frame[EXPORT_COLUMNS].sort_values(["dealer_id", "sku"]).reset_index(drop=True)


def write_dealer_exports(run_dir: Path) -> list[Path]:
    """Write ``exports/<dealer_id>.csv`` and ``.xlsx`` for every dealer with an order.

    Parameters
    ----------
    run_dir : Path
        An approved run folder.

    Returns
    -------
    list of Path
        The files written (CSV and XLSX per dealer, sorted by dealer). The ``exports/``
        folder is replaced as a whole, so a dealer whose lines were all held since the last
        export no longer gets a file.
    """
    run_dir = Path(run_dir)
    frame = dealer_export_frame(run_dir)
    exports = run_dir / EXPORTS_DIR
    written: list[Path] = []
    with atomic_dir(exports) as temp:
        for dealer, part in frame.groupby("dealer_id", sort=True):
            stem = order_file_name(str(dealer))[: -len(".csv")]
            part.to_csv(temp / f"{stem}.csv", index=False)
            with pd.ExcelWriter(temp / f"{stem}.xlsx", engine="xlsxwriter") as writer:
                part.to_excel(writer, sheet_name="order", index=False)
                sheet = writer.sheets["order"]
                sheet.freeze_panes(1, 0)
                for position, column in enumerate(part.columns):
                    width = max(len(column), *(len(str(v)) for v in part[column].head(200)))
                    sheet.set_column(position, position, min(width + 2, 60))
            written += [exports / f"{stem}.csv", exports / f"{stem}.xlsx"]
    return written
