"""Extra tables published with each run for the report: history, items, KPIs, freshness."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

HISTORY_WEEKS = 104


def load_report_tables(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, pd.DataFrame]:
    since = as_of - timedelta(weeks=HISTORY_WEEKS)
    history = con.execute(
        """
        select w.dealer_id, w.sku, w.week_start, w.qty_sold, w.is_censored
        from marts.fct_weekly_demand w
        join marts.dim_dealer_skus p using (dealer_id, sku)
        where p.is_active and w.week_start >= ?
        order by w.dealer_id, w.sku, w.week_start
        """,
        [since],
    ).df()
    items = con.execute(
        """
        select p.dealer_id, p.sku, d.dealer_name, d.region, s.category, s.description,
               s.unit_cost, s.abc_class
        from marts.dim_dealer_skus p
        join marts.dim_dealers d using (dealer_id)
        join marts.dim_skus s using (sku)
        where p.is_active
        order by p.dealer_id, p.sku
        """
    ).df()
    kpis = con.execute(
        "select dealer_id, days_of_inventory, slow_moving_share, sell_through_rate, stockout_days "
        "from marts.fct_dealer_kpis order by dealer_id"
    ).df()
    freshness = con.execute(
        "select dealer_id, feed, last_report_date, days_since_report "
        "from marts.fct_feed_freshness order by dealer_id, feed"
    ).df()
    return {"history": history, "items": items, "kpis": kpis, "freshness": freshness}
