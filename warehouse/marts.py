"""Reads of the dbt marts: one function per mart, each returning a DataFrame.

The marts are the contract between dbt and Python (dbt_project/models/marts/_marts__models.yml,
and the exposures that name these readers). A column a data engineer adds to a mart reaches the
reader with no Python change where the reader selects `*`.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from warehouse.connection import scalar


def weekly_demand(con: duckdb.DuckDBPyConnection, *, since: date | None = None) -> pd.DataFrame:
    """marts.fct_weekly_demand of the active pairs (`week_start >= since` when given)."""
    return con.execute(
        """
        select w.dealer_id, w.sku, w.week_start, w.qty_sold, w.is_censored
        from marts.fct_weekly_demand w
        join marts.dim_dealer_skus p using (dealer_id, sku)
        where p.is_active and (cast(? as date) is null or w.week_start >= ?)
        order by w.dealer_id, w.sku, w.week_start
        """,
        [since, since],
    ).df()


def replenishment_inputs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.fct_replenishment_inputs: one row per active pair, position and attributes."""
    return con.execute("select * from marts.fct_replenishment_inputs order by dealer_id, sku").df()


def active_pair_count(con: duckdb.DuckDBPyConnection) -> int:
    """Number of active dealer x SKU pairs (marts.dim_dealer_skus)."""
    return int(scalar(con, "select count(*) from marts.dim_dealer_skus where is_active") or 0)


def dealer_skus(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.dim_dealer_skus of the active pairs: first and last sale dates."""
    return con.execute(
        "select dealer_id, sku, first_sale_date, last_sale_date from marts.dim_dealer_skus "
        "where is_active"
    ).df()


def dealers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.dim_dealers."""
    return con.execute("select * from marts.dim_dealers").df()


def feed_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.fct_feed_freshness: last report date and days since, per dealer and feed."""
    return con.execute(
        "select dealer_id, feed, last_report_date, days_since_report "
        "from marts.fct_feed_freshness order by dealer_id, feed"
    ).df()


def sales_exceptions(con: duckdb.DuckDBPyConnection, *, since: date) -> pd.DataFrame:
    """marts.fct_sales_exceptions after `since`."""
    return con.execute("select * from marts.fct_sales_exceptions where date > ?", [since]).df()


def dealer_kpis(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.fct_dealer_kpis, every column (a KPI added in dbt reaches kpis.csv as it is)."""
    return con.execute("select * from marts.fct_dealer_kpis order by dealer_id").df()


def dealer_scorecard(con: duckdb.DuckDBPyConnection, dealer_id: str) -> dict[str, pd.DataFrame]:
    """A dealer's quarterly scorecard, escalation state and bullwhip ratio (the workbench's
    ``GET /api/dealers/{dealer_id}/scorecard``): marts.fct_dealer_scorecard_quarterly (every
    column, oldest quarter first), marts.fct_dealer_escalation, the dealer-total row of
    marts.fct_bullwhip and its months of marts.fct_dealer_channel_conflict (oldest first; empty
    in a warehouse built before that mart)."""
    return {
        "quarters": con.execute(
            "select * from marts.fct_dealer_scorecard_quarterly where dealer_id = ?"
            " order by quarter_start",
            [dealer_id],
        ).df(),
        "escalation": con.execute(
            "select * from marts.fct_dealer_escalation where dealer_id = ?", [dealer_id]
        ).df(),
        "bullwhip": con.execute(
            "select * from marts.fct_bullwhip where dealer_id = ? and is_dealer_total",
            [dealer_id],
        ).df(),
        "channel_conflict": con.execute(
            "select * from marts.fct_dealer_channel_conflict where dealer_id = ?"
            " order by month_start",
            [dealer_id],
        ).df()
        if _has_mart(con, "fct_dealer_channel_conflict")
        else pd.DataFrame(),
    }


def supply(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.fct_sku_supply: units the manufacturer can ship per capped SKU (empty without
    master/supply.csv, or in a warehouse built before the mart existed)."""
    if not _has_mart(con, "fct_sku_supply"):
        return pd.DataFrame(columns=["sku", "available_qty", "supply_as_of"])
    return con.execute(
        "select sku, available_qty, supply_as_of from marts.fct_sku_supply order by sku"
    ).df()


def _has_mart(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    query = (
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = ?"
    )
    return bool(con.execute(query, [name]).fetchone()[0])


def _has_mart(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    sql = (
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = ?"
    )
    return bool(scalar(con, sql, [name]))


def dealer_steering(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """What the night's dealer-management outputs read: ``escalation`` (the escalation walk,
    marts.fct_dealer_escalation_quarterly, for the `dealer_escalation` alert) and
    ``tier_proposals`` (marts.fct_dealer_tier_proposal, for tier_proposals.csv); empty frames
    in a warehouse built before these marts existed."""
    out = {}
    for key, mart, order in (
        ("escalation", "fct_dealer_escalation_quarterly", "dealer_id, quarter_start"),
        ("tier_proposals", "fct_dealer_tier_proposal", "dealer_id"),
    ):
        out[key] = (
            con.execute(f"select * from marts.{mart} order by {order}").df()
            if _has_mart(con, mart)
            else pd.DataFrame()
        )
    return out


def report_tables(
    con: duckdb.DuckDBPyConnection, *, since: date, item_columns: list[str]
) -> dict[str, pd.DataFrame]:
    """The planner-facing extras a run folder carries for the report: weekly ``history`` since
    `since`, the ``items`` (`item_columns` of marts.fct_replenishment_inputs), dealer ``kpis``
    and feed ``freshness``."""
    return {
        "history": weekly_demand(con, since=since),
        "items": replenishment_inputs(con)[item_columns],
        "kpis": dealer_kpis(con),
        "freshness": feed_freshness(con),
    }
