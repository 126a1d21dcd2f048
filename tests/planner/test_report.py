"""report.html and the markdown summary, built from a fake-but-realistic run folder.

`make_run_folder` is the shared fixture builder for the planner-side tests (report, approve,
compare, browser): it writes every file of the run folder contract with the policy arithmetic
of DESIGN.md (P = L + R, sigma_P, z from scipy, pack/MOQ rounding), so the numbers hang together.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from planner.report import (
    MAX_EMBEDDED_LINES,
    build_report,
    decode_payload,
)
from planner.run_folder import GZIP_OPTIONS
from planner.summary import report_summary_markdown

CATEGORIES = ["brakes", "filters", "lighting", "tyres", "electrical"]
SERVICE_LEVEL = {"A": 0.98, "B": 0.95, "C": 0.90}


def make_run_folder(
    out_dir: Path,
    as_of: str = "2025-06-30",
    *,
    dealers: int = 3,
    skus: int = 10,
    weeks: int = 104,
    horizon: int = 13,
    seed: int = 7,
    stale_dealer: int | None = 1,
    seasonal: bool = False,
) -> Path:
    """Write OUT/runs/<as_of>/ with every contract file; returns the run folder."""
    rng = np.random.default_rng(seed)
    run_dir = Path(out_dir) / "runs" / as_of
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"run-{as_of}"
    as_of_ts = pd.Timestamp(as_of)
    dealer_ids = np.array([f"D{i:03d}" for i in range(1, dealers + 1)])
    sku_ids = np.array([f"SKU-{j:05d}" for j in range(1, skus + 1)])
    d_idx = np.repeat(np.arange(dealers), skus)
    s_idx = np.tile(np.arange(skus), dealers)
    n = dealers * skus
    dealer_col, sku_col = dealer_ids[d_idx], sku_ids[s_idx]

    pack = rng.choice([1, 2, 5, 10], size=skus)[s_idx]
    moq = pack * rng.choice([1, 1, 2], size=skus)[s_idx]
    unit_cost = np.round(rng.uniform(2, 400, size=skus), 2)[s_idx]
    abc = rng.choice(["A", "B", "C"], size=skus, p=[0.2, 0.3, 0.5])[s_idx]
    category = np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), size=skus)][s_idx]
    lead = rng.choice([5.0, 7.0, 10.0, 14.0], size=dealers)[d_idx]
    lead_sd = rng.choice([1.0, 2.0, 3.0], size=dealers)[d_idx]
    review = np.full(n, 7.0)
    weekly_rate = rng.gamma(1.2, 4.0, size=n)

    # Weekly history: Monday weeks, the last one complete before as_of.
    last_week = as_of_ts - pd.Timedelta(days=as_of_ts.dayofweek + 7)
    week_starts = pd.date_range(end=last_week, periods=weeks, freq="7D").strftime("%Y-%m-%d")
    qty = rng.poisson(weekly_rate[:, None], size=(n, weeks)).astype(float)
    censored = rng.random((n, weeks)) < 0.03
    qty[censored] = np.floor(qty[censored] / 2)
    pd.DataFrame(
        {
            "dealer_id": np.repeat(dealer_col, weeks),
            "sku": np.repeat(sku_col, weeks),
            "week_start": np.tile(week_starts, n),
            "qty_sold": qty.ravel(),
            "is_censored": censored.ravel(),
        }
    ).to_csv(run_dir / "history.csv.gz", index=False, compression=GZIP_OPTIONS)  # as published

    avg_daily = np.round(qty[:, -26:].mean(axis=1) / 7, 4)
    weekly = avg_daily * 7
    fc_weeks = pd.date_range(
        start=last_week + pd.Timedelta(days=7), periods=horizon, freq="7D"
    ).strftime("%Y-%m-%d")
    spread = 1.96 * np.sqrt(np.maximum(weekly, 0.25))
    model = np.where(weekly_rate < 1.5, "sba", "ets")
    pd.DataFrame(
        {
            "dealer_id": np.repeat(dealer_col, horizon),
            "sku": np.repeat(sku_col, horizon),
            "week_start": np.tile(fc_weeks, n),
            "yhat": np.repeat(np.round(weekly, 3), horizon),
            "yhat_lo": np.repeat(np.round(np.maximum(0, weekly - spread), 3), horizon),
            "yhat_hi": np.repeat(np.round(weekly + spread, 3), horizon),
            "model": np.repeat(model, horizon),
        }
    ).to_csv(run_dir / "forecast.csv", index=False)
    if seasonal:  # every pair got the profile 1 + 0.5 sin(2 pi p / 52)
        positions = np.arange(52)
        pd.DataFrame(
            {
                "dealer_id": np.repeat(dealer_col, 52),
                "sku": np.repeat(sku_col, 52),
                "season_position": np.tile(positions, n),
                "factor": np.tile(1 + 0.5 * np.sin(2 * np.pi * positions / 52), n),
            }
        ).to_csv(run_dir / "seasonality.csv", index=False)

    on_hand = rng.integers(0, np.maximum(3, (weekly_rate * 4).astype(int)) + 1).astype(float)
    on_hand[rng.random(n) < 0.1] = 0
    in_transit = np.where(rng.random(n) < 0.2, pack * rng.integers(1, 4, size=n), 0).astype(float)
    on_order = np.zeros(n)
    position = on_hand + in_transit + on_order
    protection = lead + review
    demand = avg_daily * protection
    sigma_d = 0.8 * np.sqrt(np.maximum(avg_daily, 0.01))
    sigma_p = np.sqrt(protection * sigma_d**2 + avg_daily**2 * lead_sd**2)
    service = np.array([SERVICE_LEVEL[c] for c in abc])
    z = norm.ppf(service)
    safety = z * sigma_p
    order_up_to = demand + safety
    raw_need = np.maximum(0, order_up_to - position)
    suggested = np.ceil(np.round(raw_need / pack, 9)) * pack
    suggested = np.where(suggested > 0, np.maximum(suggested, moq), 0).astype(float)
    reason = [
        f"Order-up-to {u:.1f} = demand over {p:.0f} days {d:.1f} + safety stock {s:.1f}; "
        f"position {ip:.0f}; need {r:.1f} rounded to pack {pk} -> {q:.0f}."
        for u, p, d, s, ip, r, pk, q in zip(
            order_up_to,
            protection,
            demand,
            safety,
            position,
            raw_need,
            pack,
            suggested,
            strict=True,
        )
    ]
    suggestions = pd.DataFrame(
        {
            "run_id": run_id,
            "as_of": as_of,
            "dealer_id": dealer_col,
            "sku": sku_col,
            "on_hand": on_hand,
            "in_transit": in_transit,
            "on_order": on_order,
            "inventory_position": position,
            "avg_daily_demand": avg_daily,
            "demand_class": np.where(weekly_rate < 1.5, "intermittent", "smooth"),
            "forecast_model": model,
            "lead_time_days": lead,
            "lead_time_sd_days": lead_sd,
            "review_period_days": review,
            "protection_days": protection,
            "demand_over_protection": np.round(demand, 4),
            "sigma_over_protection": np.round(sigma_p, 4),
            "service_level": service,
            "z": np.round(z, 4),
            "safety_stock": np.round(safety, 4),
            "order_up_to": np.round(order_up_to, 4),
            "raw_need": np.round(raw_need, 4),
            "pack_size": pack,
            "moq": moq,
            "suggested_qty": suggested,
            "reason": reason,
        }
    )
    suggestions.to_csv(run_dir / "suggestions.csv", index=False)

    alerts = []
    for k in np.flatnonzero((on_hand == 0) & (avg_daily > 0)):
        alerts.append(
            (
                "stockout",
                "critical",
                dealer_col[k],
                sku_col[k],
                0.0,
                0.0,
                f"{sku_col[k]} is out of stock at {dealer_col[k]}",
            )
        )
    for k in np.flatnonzero((position < safety) & (on_hand > 0)):
        alerts.append(
            (
                "below_safety_stock",
                "warning",
                dealer_col[k],
                sku_col[k],
                position[k],
                round(safety[k], 2),
                f"position {position[k]:.0f} below safety stock {safety[k]:.1f}",
            )
        )
    for k in np.flatnonzero((position > 3 * order_up_to) & (order_up_to > 0)):
        alerts.append(
            (
                "overstock",
                "info",
                dealer_col[k],
                sku_col[k],
                position[k],
                round(3 * order_up_to[k], 2),
                "position above 3x order-up-to",
            )
        )
    if stale_dealer is not None and stale_dealer < dealers:
        alerts.append(
            (
                "stale_feed",
                "warning",
                dealer_ids[stale_dealer],
                "",
                12.0,
                3.0,
                f"sell_through feed of {dealer_ids[stale_dealer]} is 12 days old",
            )
        )
    alerts.append(
        (
            "feed_rejected",
            "warning",
            "",
            "",
            np.nan,
            np.nan,
            "landing/sell_through/broken.csv rejected: missing column qty_sold",
        )
    )
    pd.DataFrame(
        alerts,
        columns=["alert_type", "severity", "dealer_id", "sku", "metric", "threshold", "message"],
    ).assign(run_id=run_id, as_of=as_of)[
        [
            "run_id",
            "as_of",
            "alert_type",
            "severity",
            "dealer_id",
            "sku",
            "metric",
            "threshold",
            "message",
        ]
    ].to_csv(run_dir / "alerts.csv", index=False)

    names = np.array([f"Dealer {i}" for i in range(1, dealers + 1)])
    regions = np.array(["north", "south", "east", "west"])[np.arange(dealers) % 4]
    pd.DataFrame(
        {
            "dealer_id": dealer_col,
            "sku": sku_col,
            "dealer_name": names[d_idx],
            "region": regions[d_idx],
            "category": category,
            "description": [f"{c} part {s[-3:]}" for c, s in zip(category, sku_col, strict=True)],
            "unit_cost": unit_cost,
            "abc_class": abc,
        }
    ).to_csv(run_dir / "items.csv", index=False)
    pd.DataFrame(
        {
            "dealer_id": dealer_ids,
            "days_of_inventory": np.round(rng.uniform(10, 90, dealers), 1),
            "slow_moving_share": np.round(rng.uniform(0, 0.4, dealers), 3),
            "sell_through_rate": np.round(rng.uniform(0.2, 0.9, dealers), 3),
            "stockout_days": rng.integers(0, 30, dealers),
        }
    ).to_csv(run_dir / "kpis.csv", index=False)
    days = np.where(np.arange(dealers) == stale_dealer, 12, 1)
    pd.DataFrame(
        {
            "dealer_id": np.repeat(dealer_ids, 2),
            "feed": np.tile(["sell_through", "inventory"], dealers),
            "last_report_date": [
                str((as_of_ts - pd.Timedelta(days=int(d))).date()) for d in np.repeat(days, 2)
            ],
            "days_since_report": np.repeat(days, 2),
        }
    ).to_csv(run_dir / "freshness.csv", index=False)
    pd.DataFrame(
        {
            "from_dealer_id": [dealer_ids[0]],
            "to_dealer_id": [dealer_ids[-1]],
            "sku": [sku_ids[0]],
            "qty": [float(pack[0])],
            "reason": ["overstock at the source covers a shortfall"],
        }
    ).to_csv(run_dir / "transfers.csv", index=False)
    pd.DataFrame(
        {
            "run_id": run_id,
            "source_file": ["landing/inventory/d1.csv"] * 2,
            "line": [7, 12],
            "rule": ["on_hand_not_negative", "sku_known"],
            "column": ["on_hand", "sku"],
            "value": ["-4", "XX-1"],
            "raw_record": ['{"on_hand": "-4"}', '{"sku": "XX-1"}'],
        }
    ).to_csv(run_dir / "quarantine.csv", index=False)
    files = [
        {
            "path": f"landing/sell_through/d{i}.csv",
            "feed": "sell_through",
            "status": "accepted",
            "rows_read": 100,
            "rows_accepted": 100,
            "rows_quarantined": 0,
            "reason": "",
        }
        for i in range(3)
    ] + [
        {
            "path": "landing/inventory/d1.csv",
            "feed": "inventory",
            "status": "partial",
            "rows_read": 50,
            "rows_accepted": 48,
            "rows_quarantined": 2,
            "reason": "2 rows",
        },
        {
            "path": "landing/sell_through/broken.csv",
            "feed": "sell_through",
            "status": "rejected",
            "rows_read": 0,
            "rows_accepted": 0,
            "rows_quarantined": 0,
            "reason": "missing column",
        },
        {
            "path": "landing/sell_through/d0-copy.csv",
            "feed": "sell_through",
            "status": "duplicate",
            "rows_read": 0,
            "rows_accepted": 0,
            "rows_quarantined": 0,
            "reason": "already ingested",
        },
    ]
    counts = pd.Series([a[0] for a in alerts]).value_counts().to_dict()
    (run_dir / "run_summary.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "as_of": as_of,
                "warehouse": None,
                "files": files,
                "stages": [
                    {"name": "ingest", "seconds": 1.5, "rows": 300},
                    {"name": "forecast", "seconds": 12.0, "rows": n},
                ],
                "alerts": {k: int(v) for k, v in counts.items()},
            }
        )
    )
    return run_dir


# --------------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    """Collects src/href attributes and tag names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))


class _Table(HTMLParser):
    """Header and body cells (text) of the first table inside ``<section id=...>``."""

    def __init__(self, section: str) -> None:
        super().__init__()
        self.section, self.inside, self.cell = section, False, None
        self.head: list[str] = []
        self.rows: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and dict(attrs).get("id") == self.section:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("th", "td"):
            self.cell = ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.inside = False
        elif self.inside and tag in ("th", "td") and self.cell is not None:
            (self.head if tag == "th" else self.rows[-1]).append(" ".join(self.cell.split()))
            self.cell = None


def read_table(html: str, section: str) -> pd.DataFrame:
    parser = _Table(section)
    parser.feed(html)
    return pd.DataFrame([row for row in parser.rows if row], columns=parser.head)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run_folder(tmp_path / "out")


def test_report_is_self_contained(run_dir: Path) -> None:
    path = build_report(run_dir)
    assert path == run_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(html)
    external = [
        r for r in parser.refs if "http://" in r[2] or "https://" in r[2] or r[2].startswith("//")
    ]
    assert external == []
    # No script or stylesheet is fetched: every <script> is inline, no <link> at all.
    assert not [r for r in parser.refs if r[0] in ("script", "link")]
    assert "link" not in parser.tags
    assert "<script>" in html and 'id="lines-table"' in html and 'id="drill"' in html
    # The drill-down draws its charts into SVG built by the inline script.
    assert "createElementNS" in html and "projectOnHand" in html


def test_payload_holds_every_line_and_its_series(run_dir: Path) -> None:
    data = decode_payload(build_report(run_dir).read_text(encoding="utf-8"))
    lines = pd.read_csv(run_dir / "suggestions.csv", dtype={"dealer_id": str, "sku": str})
    assert data["n"] == len(lines) == 30
    dealers = [data["dealers"][i][0] for i in data["dealer"]]
    assert list(zip(dealers, data["sku"], strict=True)) == list(
        zip(lines["dealer_id"], lines["sku"], strict=True)
    )
    assert data["suggested_qty"] == pytest.approx(lines["suggested_qty"].tolist())
    assert data["reason"] == lines["reason"].tolist()

    # History: same matrix as an independent pivot of history.csv.gz.
    history = pd.read_csv(run_dir / "history.csv.gz")
    pivot = history.pivot_table(index=["dealer_id", "sku"], columns="week_start", values="qty_sold")
    assert data["hist_weeks"] == list(pivot.columns)
    k = 17
    key = (lines.loc[k, "dealer_id"], lines.loc[k, "sku"])
    assert data["hist"][k] == pytest.approx(pivot.loc[key].tolist())
    flags = history[(history.dealer_id == key[0]) & (history.sku == key[1])]
    expected = "".join("1" if v else "0" for v in flags.sort_values("week_start").is_censored)
    assert data["censored"][k] == expected
    assert "1" in "".join(data["censored"])

    forecast = pd.read_csv(run_dir / "forecast.csv")
    fc = forecast[(forecast.dealer_id == key[0]) & (forecast.sku == key[1])]
    assert data["yhat_hi"][k] == pytest.approx(
        fc.sort_values("week_start").yhat_hi.tolist(), abs=0.01
    )

    # Line value = suggested_qty * unit_cost from items.csv.
    items = pd.read_csv(run_dir / "items.csv")
    cost = lines.merge(items, on=["dealer_id", "sku"])["unit_cost"]
    assert data["value"] == pytest.approx((lines["suggested_qty"] * cost).tolist(), abs=1e-3)


def test_header_figures(run_dir: Path) -> None:
    html = build_report(run_dir).read_text(encoding="utf-8")
    lines = pd.read_csv(run_dir / "suggestions.csv")
    items = pd.read_csv(run_dir / "items.csv")
    value = (lines.merge(items, on=["dealer_id", "sku"]).eval("suggested_qty * unit_cost")).sum()
    assert f'<span class="big">{value:,.0f}</span>value suggested' in html
    assert '<span class="big">30</span>lines' in html
    assert '<span class="big">2</span>rows quarantined' in html
    assert "accepted 3 &middot; duplicate 1 &middot; partial 1 &middot; rejected 1" in html
    # The stale dealer (a stale_feed alert) is highlighted, the fresh ones are not.
    stale_rows = re.findall(r'<tr class="stale"><td>(D\d+) ', html)
    assert set(stale_rows) == {"D002"}


def test_exceptions_sorted_by_severity_then_value(run_dir: Path) -> None:
    html = build_report(run_dir).read_text(encoding="utf-8")
    start = html.index('<section id="exceptions">')
    section = html[start : html.index("</section>", start)]
    rows = re.findall(r'<tr class="sev-(\w+)" data-dealer="([^"]*)" data-sku="([^"]*)">', section)
    alerts = pd.read_csv(run_dir / "alerts.csv", dtype=str, keep_default_na=False)
    assert len(rows) == len(alerts)
    order = {"critical": 0, "warning": 1, "info": 2}
    ranks = [order[r[0]] for r in rows]
    assert ranks == sorted(ranks)
    # Within a severity, pair alerts come by descending suggested value (independent calc).
    lines = pd.read_csv(run_dir / "suggestions.csv").merge(
        pd.read_csv(run_dir / "items.csv"), on=["dealer_id", "sku"]
    )
    value = {
        (d, s): q * c
        for d, s, q, c in zip(
            lines.dealer_id, lines.sku, lines.suggested_qty, lines.unit_cost, strict=True
        )
    }
    criticals = [value[(d, s)] for sev, d, s in rows if sev == "critical"]
    assert criticals and criticals == sorted(criticals, reverse=True)


def test_static_text_is_escaped(run_dir: Path) -> None:
    items = pd.read_csv(run_dir / "items.csv", dtype=str)
    items.loc[items.dealer_id == "D001", "dealer_name"] = "Smith & <b>Sons</b>"
    items.to_csv(run_dir / "items.csv", index=False)
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "<b>Sons</b>" not in html
    assert "Smith &amp; &lt;b&gt;Sons&lt;/b&gt;" in html


def test_optional_files_may_be_missing(run_dir: Path) -> None:
    for name in (
        "history.csv.gz",
        "forecast.csv",
        "items.csv",
        "kpis.csv",
        "freshness.csv",
        "transfers.csv",
        "quarantine.csv",
        "run_summary.json",
        "alerts.csv",
    ):
        (run_dir / name).unlink()
    html = build_report(run_dir).read_text(encoding="utf-8")
    data = decode_payload(html)
    assert data["n"] == 30
    assert data["hist_weeks"] == [] and data["hist"] == [[]] * 30
    assert "No alerts in this run." in html and "No transfers suggested" in html
    assert "No alerts in this run." in report_summary_markdown(run_dir)


def test_run_without_lines_still_builds(run_dir: Path) -> None:
    lines = pd.read_csv(run_dir / "suggestions.csv")
    lines.head(0).to_csv(run_dir / "suggestions.csv", index=False)
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert decode_payload(html)["n"] == 0
    assert '<span class="big">0</span>lines' in html
    # Alerts not tied to a line (a rejected file) are still listed.
    assert "broken.csv rejected" in html


def test_missing_suggestions_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "runs" / "2025-06-30").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="suggestions.csv"):
        build_report(tmp_path / "runs" / "2025-06-30")


def test_markdown_summary(run_dir: Path) -> None:
    text = report_summary_markdown(run_dir)
    alerts = pd.read_csv(run_dir / "alerts.csv", dtype=str, keep_default_na=False)
    critical = int((alerts.severity == "critical").sum())
    assert text.startswith("# VMI run 2025-06-30")
    assert f"| critical | {critical:,} |" in text
    assert "| feed_rejected | warning | 1 |" in text
    table = [row for row in text.splitlines() if row.startswith("| critical | stockout")]
    assert len(table) == min(critical, 20)


def test_since_last_run_section(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "out", "2025-06-23", seed=3)
    current = make_run_folder(tmp_path / "out", "2025-06-30", seed=7)
    html = build_report(current).read_text(encoding="utf-8")
    assert '<section id="changes">' in html and "Since last run (2025-06-23)" in html
    assert (current / "changes.csv").exists()
    assert "## Since last run" in report_summary_markdown(current)


def test_first_run_has_no_since_last_run_section(run_dir: Path) -> None:
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert '<section id="changes">' not in html
    assert not (run_dir / "changes.csv").exists()


def big_run_folder(make_once, out_dir: Path) -> Path:
    """A copy in `out_dir` of a 20,000-line run folder (`make_run_folder` of 20 dealers x 1,000
    SKUs, seconds to write), made once per session for this file and test_report_browser.py
    (tests/conftest.py `make_once`); returns the copy's run folder."""

    def make(folder: Path) -> str:
        return make_run_folder(folder / "out", dealers=20, skus=1000).name

    made = make_once("run-folder-20000-lines", make)
    shutil.copytree(made / "out", out_dir)
    return out_dir / "runs" / (made / "done").read_text()


@pytest.mark.slow
def test_size_with_20000_lines(make_once, tmp_path: Path) -> None:
    run_dir = big_run_folder(make_once, tmp_path / "out")
    path = build_report(run_dir)
    size = path.stat().st_size
    data = decode_payload(path.read_text(encoding="utf-8"))
    print(f"\nreport.html for {data['n']} of {data['n_total']} lines: {size / 1e6:.2f} MB")
    # A big run embeds the lines reviewed first, each with its series; the rest are counted.
    assert data["n_total"] == 20_000 and data["n"] == MAX_EMBEDDED_LINES
    assert len(data["hist"]) == data["n"] and len(data["hist"][-1]) == 104
    # Not a speed figure: a guard that the page stays mailable (no per-row DOM, gzip blob).
    assert size < 3e6
    # Every line embedded, on request: the page still holds 20,000 lines and their series.
    path = build_report(run_dir, max_lines=None)
    data = decode_payload(path.read_text(encoding="utf-8"))
    assert data["n"] == data["n_total"] == 20_000 and len(data["hist"][19_999]) == 104
    assert path.stat().st_size < 12e6


def test_exceptions_without_dealer_level_alerts_keep_line_values():
    from planner.figures import exceptions_frame

    lines = pd.DataFrame(
        {
            "dealer_id": ["D1", "D1"],
            "sku": ["A", "B"],
            "dealer_name": ["One", "One"],
            "description": ["a", "b"],
            "value": [10.0, 30.0],
            "stock_value": [1.0, 2.0],
        }
    )
    alerts = pd.DataFrame(
        {
            "alert_type": ["stockout", "overstock"],
            "severity": ["critical", "info"],
            "dealer_id": ["D1", "D1"],
            "sku": ["A", "B"],
            "message": ["m", "n"],
        }
    )
    out = exceptions_frame(lines, alerts)
    assert out["sku"].tolist() == ["A", "B"]  # critical first, whatever the value
    assert out["value"].tolist() == [10.0, 30.0]


def test_kpi_table_shows_every_column_of_kpis_csv(run_dir: Path) -> None:
    """A KPI column added to marts.fct_dealer_kpis reaches the page with no Python change."""
    kpis = pd.read_csv(run_dir / "kpis.csv", dtype={"dealer_id": str})
    kpis["inventory_turns"] = [4.34, 11.0, np.nan]
    kpis["fill_rate"] = [0.914, 0.5, 1.0]
    kpis["tier"] = ["gold", "silver", ""]
    kpis["as_of"] = "2025-06-30"  # names the run, not a KPI
    kpis.to_csv(run_dir / "kpis.csv", index=False)
    table = read_table(build_report(run_dir).read_text(encoding="utf-8"), "kpis")

    header = list(table.columns)
    assert header[0] == "Dealer"
    assert header[-7:] == [
        "Days of inventory", "Slow-moving share", "Sell-through", "Stockout days",
        "Inventory turns", "Fill rate", "Tier",
    ]  # fmt: skip
    assert "As of" not in header and "as_of" not in header
    assert table["Dealer"].tolist() == ["D001 Dealer 1", "D002 Dealer 2", "D003 Dealer 3"]
    assert table["Inventory turns"].tolist() == ["4.3", "11", ""]
    assert table["Fill rate"].tolist() == ["91%", "50%", "100%"]
    assert table["Tier"].tolist() == ["gold", "silver", ""]
    assert table["Stockout days"].tolist() == [f"{v:,.0f}" for v in kpis["stockout_days"]]


def test_kpi_table_without_kpis_csv_keeps_the_run_columns(run_dir: Path) -> None:
    (run_dir / "kpis.csv").unlink()
    table = read_table(build_report(run_dir).read_text(encoding="utf-8"), "kpis")
    assert list(table.columns) == [
        "Dealer", "Region", "Lines", "With order", "Order value", "Critical", "Warnings",
    ]  # fmt: skip
    assert table["Lines"].tolist() == ["10", "10", "10"]


def test_season_factors_follow_the_forecasters_week_positions():
    """Week positions counted by hand from Monday 2000-01-03 (position 0), 52 per season."""
    from planner.report import season_factors

    profiles = pd.DataFrame(
        {
            "dealer_id": ["D1"] * 52,
            "sku": ["S1"] * 52,
            "season_position": np.arange(52),
            "factor": np.arange(52) / 10 + 0.5,
        }
    )
    rows = pd.MultiIndex.from_tuples([("D1", "S1"), ("D2", "S1")], names=["dealer_id", "sku"])
    # 2000-01-10 is week 1; 2001-01-01 is 364 days = 52 weeks later (position 0 again);
    # 2025-06-30 is 9,310 days = 1,330 weeks after the epoch: 1,330 mod 52 = 30.
    weeks = ["2000-01-10", "2001-01-01", "2025-06-30"]
    factors = season_factors(profiles, rows, weeks)
    assert factors[0].tolist() == [0.6, 0.5, 3.5]
    assert np.isnan(factors[1]).all()  # no profile: nothing drawn


def test_report_carries_the_seasonal_profile_per_line(tmp_path):
    run_dir = make_run_folder(tmp_path / "out", seasonal=True)
    data = decode_payload(build_report(run_dir).read_text())
    weeks = data["hist_weeks"] + [w for w in data["fc_weeks"] if w not in data["hist_weeks"]]
    first = pd.Timestamp(weeks[0])
    expected = 1 + 0.5 * np.sin(
        2 * np.pi * (((first - pd.Timestamp("2000-01-03")).days // 7) % 52) / 52
    )
    assert len(data["season"][0]) == len(weeks)
    assert data["season"][0][0] == pytest.approx(expected, abs=1e-3)


# --------------------------------------------------------------------------------------------
# Front-page charts, approval marks, "Since last run", layout
# --------------------------------------------------------------------------------------------

PACKAGE_JSON = Path(__file__).resolve().parents[2] / "package.json"


def test_chart_js_is_inlined_and_the_charts_are_on_the_first_screen(run_dir: Path) -> None:
    from planner.report import CHART_JS

    if not CHART_JS.exists():
        pytest.skip("Chart.js not installed: run `make assets`")
    html = build_report(run_dir).read_text(encoding="utf-8")
    version = json.loads(PACKAGE_JSON.read_text())["dependencies"]["chart.js"]
    assert f"Chart.js v{version}" in html  # the pinned file, inlined (no src, no CDN)
    assert "cdn" not in "".join(re.findall(r"<script[^>]*>", html)).lower()
    overview = html[html.index('<section id="overview">') : html.index('<section id="lines">')]
    for name in ("chart-health", "chart-exceptions", "chart-trend"):
        assert f'<canvas id="{name}"' in overview
    assert 'id="no-charts"' not in html


def test_without_chart_js_the_page_says_how_to_get_the_charts(
    run_dir: Path, tmp_path: Path
) -> None:
    html = build_report(run_dir, chart_js=tmp_path / "missing.js").read_text(encoding="utf-8")
    assert "make assets" in html and 'id="no-charts"' in html
    assert "<canvas" not in html and "Chart.js v" not in html
    assert decode_payload(html)["n"] == 30  # everything else is there
    assert 'id="lines-table"' in html and '<section id="kpis">' in html


def test_sections_in_working_order(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "out", "2025-06-23", seed=3)
    html = build_report(make_run_folder(tmp_path / "out", "2025-06-30")).read_text("utf-8")
    order = [
        html.index(f'<section id="{name}">')
        for name in ("overview", "lines", "exceptions", "changes", "kpis", "transfers")
    ]
    assert order == sorted(order)
    # The drill-down is a panel of its own, not at the foot of a 100-row table.
    assert '<aside id="drill" class="drill" hidden' in html


def test_network_health_by_dealer(run_dir: Path) -> None:
    from planner.report import decode_charts

    charts = decode_charts(build_report(run_dir).read_text(encoding="utf-8"))
    lines = pd.read_csv(run_dir / "suggestions.csv").merge(
        pd.read_csv(run_dir / "items.csv"), on=["dealer_id", "sku"]
    )
    lines = lines[lines.avg_daily_demand > 0]
    health = {h["dealer_id"]: h for h in charts["health"]}
    assert set(health) == {"D001", "D002", "D003"}
    for dealer, part in lines.groupby("dealer_id"):
        w = part.unit_cost
        demand = (part.avg_daily_demand * w).sum()
        assert health[dealer]["cover_days"] == pytest.approx(
            (part.inventory_position * w).sum() / demand, abs=0.051
        )
        assert health[dealer]["target_days"] == pytest.approx(
            (part.order_up_to * w).sum() / demand, abs=0.051
        )
        assert health[dealer]["safety_days"] == pytest.approx(
            (part.safety_stock * w).sum() / demand, abs=0.051
        )
    ratios = [h["cover_days"] / h["target_days"] for h in charts["health"]]
    assert ratios == sorted(ratios)  # least covered first


def test_exceptions_by_type_and_value(run_dir: Path) -> None:
    from planner.report import decode_charts

    charts = decode_charts(build_report(run_dir).read_text(encoding="utf-8"))
    by_type = {e["alert_type"]: e for e in charts["exceptions"]}
    alerts = pd.read_csv(run_dir / "alerts.csv", dtype=str, keep_default_na=False)
    assert {t: e["count"] for t, e in by_type.items()} == alerts.alert_type.value_counts().to_dict()
    lines = pd.read_csv(run_dir / "suggestions.csv").merge(
        pd.read_csv(run_dir / "items.csv"), on=["dealer_id", "sku"]
    )
    lines["order_value"] = lines.suggested_qty * lines.unit_cost
    lines["stock_value"] = lines.on_hand.clip(lower=0) * lines.unit_cost
    stockouts = alerts[alerts.alert_type == "stockout"].merge(lines, on=["dealer_id", "sku"])
    assert by_type["stockout"]["value"] == pytest.approx(stockouts.order_value.sum(), abs=0.01)
    assert by_type["stockout"]["by_severity"]["critical"]["count"] == len(stockouts)
    over = alerts[alerts.alert_type == "overstock"].merge(lines, on=["dealer_id", "sku"])
    assert by_type["overstock"]["value"] == pytest.approx(over.stock_value.sum(), abs=0.01)
    # The stale feed of D002 puts all of D002's orders at stake.
    d2 = lines.loc[lines.dealer_id == "D002", "order_value"].sum()
    assert by_type["stale_feed"]["value"] == pytest.approx(d2, abs=0.01)
    values = [e["value"] for e in charts["exceptions"]]
    assert values == sorted(values, reverse=True)


def test_service_and_forecast_accuracy_across_runs(tmp_path: Path) -> None:
    from planner.report import decode_charts

    out = tmp_path / "out"
    for k, day in enumerate(["2025-06-16", "2025-06-23"]):
        make_run_folder(out, day, seed=3 + k)
    (out / "runs" / "not-a-run").mkdir()
    current = make_run_folder(out, "2025-06-30")
    trend = decode_charts(build_report(current).read_text(encoding="utf-8"))["trend"]
    assert [t["as_of"] for t in trend] == ["2025-06-16", "2025-06-23", "2025-06-30"]

    history = pd.read_csv(current / "history.csv.gz")
    for point in trend:
        folder = out / "runs" / point["as_of"]
        lines = pd.read_csv(folder / "suggestions.csv")
        with_demand = lines[lines.avg_daily_demand > 0]
        assert point["in_stock"] == pytest.approx((with_demand.on_hand > 0).mean())
        if point["as_of"] == "2025-06-30":
            assert point["forecast_accuracy"] is None  # its first week is not reported yet
            continue
        forecast = pd.read_csv(folder / "forecast.csv")
        first = forecast[forecast.week_start == forecast.week_start.min()]
        both = first.merge(history, on=["dealer_id", "sku", "week_start"])
        wape = (both.qty_sold - both.yhat).abs().sum() / both.qty_sold.sum()
        assert point["forecast_week"] == first.week_start.iloc[0]
        assert point["forecast_accuracy"] == pytest.approx(max(0.0, 1 - wape))


def test_embedded_values_cannot_break_out_of_their_script(run_dir: Path) -> None:
    from planner.report import decode_charts

    hostile = "</script><script>window.pwned=1</script><!-- & \u2028"
    items = pd.read_csv(run_dir / "items.csv", dtype=str)
    items.loc[items.dealer_id == "D001", "dealer_name"] = hostile
    items.loc[items.sku == "SKU-00001", "description"] = hostile
    items.to_csv(run_dir / "items.csv", index=False)
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "<script>window.pwned" not in html
    # Every <script> of the page is one of ours: two data elements, Chart.js, the page script.
    opened = re.findall(r"<script\b[^>]*>", html)
    assert len(opened) == len(re.findall(r"</script>", html)) <= 4
    charts = decode_charts(html)
    assert {h["dealer_name"] for h in charts["health"] if h["dealer_id"] == "D001"} == {hostile}
    data = decode_payload(html)
    assert data["dealers"][0] == ["D001", hostile] and hostile in data["description"]


def test_approval_marks_on_the_lines(tmp_path: Path) -> None:
    from planner.approve import approve_run

    out = tmp_path / "out"
    run_dir = make_run_folder(out)
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "Not approved yet." in html and 'id="f-decision"' not in html
    assert set(decode_payload(html)["decision"]) == {0}

    lines = pd.read_csv(run_dir / "suggestions.csv", dtype={"dealer_id": str, "sku": str})
    ordered = lines[lines.suggested_qty > 0].reset_index(drop=True)
    held, changed = ordered.iloc[0], ordered.iloc[1]
    decisions = pd.DataFrame(
        [
            {"dealer_id": held.dealer_id, "sku": held.sku, "hold": True,
             "note": "credit check", "dealer_note": "back next week"},
            {"dealer_id": changed.dealer_id, "sku": changed.sku, "hold": False,
             "qty": changed.suggested_qty + changed.pack_size, "note": "", "dealer_note": ""},
        ]
    )  # fmt: skip
    result = approve_run(out, "2025-06-30", decisions, approved_by="ana")
    html = build_report(run_dir).read_text(encoding="utf-8")
    data = decode_payload(html)
    by_line = {
        (data["dealers"][d][0], s): k
        for k, (d, s) in enumerate(zip(data["dealer"], data["sku"], strict=True))
    }
    k_held = by_line[(held.dealer_id, held.sku)]
    k_changed = by_line[(changed.dealer_id, changed.sku)]
    assert data["decision"][k_held] == 3 and data["approved_qty"][k_held] == 0
    assert data["dealer_note"][k_held] == "back next week"
    assert data["note"][k_held] == "credit check"
    assert data["decision"][k_changed] == 2
    assert data["approved_qty"][k_changed] == changed.suggested_qty + changed.pack_size
    # Every other line with an order was approved as suggested; lines without one: no mark.
    codes = pd.Series(data["decision"])
    assert (codes == 1).sum() == len(ordered) - 2
    assert (codes == 0).sum() == len(lines) - len(ordered)
    banner = re.search(r'<p class="approval" id="approval">(.*?)</p>', html, re.S).group(1)
    assert "by ana" in banner and result.approval_id in banner
    assert f"{len(ordered) - 2} lines as suggested, 1 changed, 1 held" in " ".join(banner.split())
    assert 'id="f-decision"' in html


def test_since_last_run_is_collapsed_ranked_and_filterable(tmp_path: Path) -> None:
    make_run_folder(tmp_path / "out", "2025-06-23", seed=3)
    current = make_run_folder(tmp_path / "out", "2025-06-30", seed=7)
    html = build_report(current).read_text(encoding="utf-8")
    assert '<details id="changes-details">' in html  # collapsed: no `open`
    assert '<select id="c-type">' in html and '<input id="c-text"' in html
    table = read_table(html, "changes")
    changes = pd.read_csv(current / "changes.csv", keep_default_na=False)
    assert len(table) == min(len(changes), 5 * 100)
    values = [float(v.replace(",", "")) if v else -1.0 for v in table["Value"]]
    assert values == sorted(values, reverse=True)
    noop = re.compile(r"(?<=\s)(\S+) -> \1(?=;|\)|$)")  # "lead time sd 1.18 -> 1.18"
    assert [d for d in table["Why"] if noop.search(d)] == []


def test_excess_actions_and_tier_proposals_sections(run_dir: Path) -> None:
    from planner.run_folder import write_csv

    write_csv(
        pd.DataFrame(
            {
                "run_id": "r",
                "as_of": "2025-06-30",
                "dealer_id": ["D001", "D002", "D002"],
                "sku": ["S1", "S2", "S3"],
                "action": ["transfer", "return", "return"],
                "qty": [5.0, 8.0, 2.0],
                "value": [50.0, 32.0, 20.0],
                "cost": [2.5, 11.2, 4.0],
                "reason": ["<script>alert(1)</script> move it", "send back", "=SUM(A1)"],
            }
        ),  # fmt: skip
        run_dir / "actions.csv",
    )
    write_csv(
        pd.DataFrame(
            {
                "run_id": "r",
                "as_of": "2025-06-30",
                "dealer_id": ["D001", "D002"],
                "current_tier": ["silver", "gold"],
                "proposed_tier": ["silver", "silver"],
                "rebate_rate": [0.025, 0.01],
                "credit_limit": [12500.0, 9000.0],
                "reason": ["Stays silver: ...", "Demote gold -> silver: misses turnover"],
            }
        ),  # fmt: skip
        run_dir / "tier_proposals.csv",
    )
    html = build_report(run_dir).read_text(encoding="utf-8")
    actions = html[html.index('<section id="actions">') : html.index('<section id="tiers">')]
    assert "<script>alert(1)</script>" not in actions and "&lt;script&gt;" in actions
    assert "=SUM(A1)" in actions  # neutralised in the CSV, given back as written
    # Totals per remedy: return 2 lines, 10 units, 52 of stock for 15 (11.2 + 4.0).
    assert "return: 2 line(s), 10 units, 52 stock for 15" in " ".join(actions.split())
    tiers = html[html.index('<section id="tiers">') :]
    tiers = tiers[: tiers.index("</section>")]
    assert tiers.index("D002") < tiers.index("D001")  # the proposed change first
    assert "2.5%" in tiers and "12,500" in tiers
    summary = report_summary_markdown(run_dir)
    assert "## Excess-stock actions" in summary and "| return | 2 | 10 | 52 | 15 |" in summary
    assert "## Dealer tiers: 1 change(s) proposed" in summary
    assert "- D002: Demote gold -> silver: misses turnover" in summary
    # Without the two files the page says so and leaves the tier section out.
    (run_dir / "actions.csv").unlink()
    (run_dir / "tier_proposals.csv").unlink()
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert "No excess stock to act on" in html and '<section id="tiers">' not in html


def test_a_short_supply_embeds_what_can_ship_beside_the_suggestion(run_dir: Path) -> None:
    from planner.run_folder import read_run_table, write_csv

    plain = decode_payload(build_report(run_dir).read_text(encoding="utf-8"))
    assert plain["has_allocation"] is False  # no supply.csv: what ships is the suggestion
    assert plain["allocated_qty"] == plain["suggested_qty"]

    lines = read_run_table(run_dir, "suggestions")
    cut = int(lines["suggested_qty"].fillna(0).to_numpy().argmax())
    lines["allocated_qty"] = lines["suggested_qty"]
    lines.loc[cut, "allocated_qty"] = lines.loc[cut, "suggested_qty"] // 2
    write_csv(lines, run_dir / "suggestions.csv")
    data = decode_payload(build_report(run_dir).read_text(encoding="utf-8"))
    assert data["has_allocation"] is True
    assert data["allocated_qty"][cut] == lines.loc[cut, "suggested_qty"] // 2
    assert data["suggested_qty"][cut] == lines.loc[cut, "suggested_qty"]  # the policy's ask stays
