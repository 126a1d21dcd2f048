"""Outputs sized for big networks: the report embeds the top lines, history is compressed,
run_summary.json keeps per-file rows in files.csv when a run has thousands of files."""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_report import make_run_folder, read_table

from planner.figures import exceptions_frame, run_header
from planner.report import (
    MAX_EMBEDDED_LINES,
    TOP_VALUE_LINES,
    build_report,
    decode_payload,
    embedded_lines,
)
from planner.run_folder import (
    SUMMARY_MAX_FILES,
    lines_with_items,
    publish_run,
    read_run_files,
    read_run_summary,
    read_run_table,
    table_path,
)
from planner.summary import report_summary_markdown
from web.lines import pair_series

AS_OF = date(2025, 6, 30)
PAIR = ["dealer_id", "sku"]


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["dealer_id"], frame["sku"], strict=True))


def _embedded(data: dict) -> list[tuple[str, str]]:
    return [(data["dealers"][d][0], s) for d, s in zip(data["dealer"], data["sku"], strict=True)]


# ------------------------------------------------------------------------------ report.html


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 lines: more than the page embeds."""
    run_dir = make_run_folder(tmp_path_factory.mktemp("big") / "out", dealers=10, skus=600)
    build_report(run_dir)
    return run_dir


def test_a_big_report_embeds_the_top_lines_with_their_series(big_run: Path) -> None:
    html = (big_run / "report.html").read_text(encoding="utf-8")
    data = decode_payload(html)
    lines = lines_with_items(big_run)
    assert len(lines) == data["n_total"] == 6_000 > MAX_EMBEDDED_LINES
    # The embedded lines: the most valuable, every line with a critical or warning alert and
    # the line of every exception listed on the page, nothing else.
    alerts = read_run_table(big_run, "alerts")
    alerted = _pairs(alerts[alerts["severity"].isin(["critical", "warning"]) & (alerts.sku != "")])
    top = _pairs(lines.nlargest(TOP_VALUE_LINES, "value", keep="first"))  # ties: file order
    listed = read_table(html, "exceptions")
    listed = _pairs(listed.assign(dealer_id=listed["Dealer"].str.split().str[0], sku=listed["SKU"]))
    expected = top | alerted | (listed & _pairs(lines))
    embedded = _embedded(data)
    assert len(embedded) == len(set(embedded)) == data["n"] < MAX_EMBEDDED_LINES
    assert set(embedded) == expected
    # One series per embedded line in every per-line array of the payload, no more.
    for key in ("hist", "censored", "yhat", "yhat_lo", "yhat_hi", "season", "reason", "value"):
        assert len(data[key]) == data["n"], key
    assert {len(row) for row in data["hist"]} == {104}
    # Each series is its own line's: the history of one embedded line, read from the file.
    history = read_run_table(big_run, "history")
    k = data["n"] // 2
    dealer, sku = embedded[k]
    mine = history[(history.dealer_id == dealer) & (history.sku == sku)]
    assert data["hist"][k] == pytest.approx(mine.sort_values("week_start").qty_sold.tolist())
    # Only the alerts of embedded lines (and dealer-wide ones) travel with them.
    referenced = {i for ids in data["line_alerts"] + data["dealer_alerts"] for i in ids}
    assert referenced == set(range(len(data["alerts"])))
    # The page says how many lines it leaves out and where they are; the header counts all.
    left_out = 6_000 - data["n"]
    notice = html[html.index('id="not-embedded"') : html.index("</p>", html.index("not-embedded"))]
    assert f"{left_out:,}</span> lines are not in this page" in notice
    assert "vmi serve-web" in notice
    assert '<span class="big">6,000</span>lines' in html


def test_the_cap_keeps_the_most_valuable_then_the_most_severe(big_run: Path) -> None:
    lines = lines_with_items(big_run)
    exceptions = exceptions_frame(lines, read_run_table(big_run, "alerts"))
    keep = embedded_lines(lines, exceptions, limit=700)
    assert keep.sum() == 700
    chosen = _pairs(lines[keep])
    top = _pairs(lines.sort_values("value", ascending=False, kind="stable").head(TOP_VALUE_LINES))
    assert top <= chosen
    # The other 200: the first lines in the exceptions' order (critical first) not yet in.
    ordered = exceptions[exceptions.sku != ""].drop_duplicates(PAIR)
    rest = [p for p in zip(ordered.dealer_id, ordered.sku, strict=True) if p not in top]
    assert chosen - top == set(rest[:200])
    # A small run embeds every line, and its page has no "not embedded" notice.
    assert embedded_lines(lines.head(50), exceptions).all()
    assert embedded_lines(lines, exceptions, limit=None).all()


def test_a_small_report_embeds_every_line(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    html = build_report(run_dir).read_text(encoding="utf-8")
    data = decode_payload(html)
    assert data["n"] == data["n_total"] == 30
    assert 'id="not-embedded"' not in html


# ------------------------------------------------------------------------------ history


def _history(pairs: int = 40, weeks: int = 104) -> pd.DataFrame:
    week_starts = pd.date_range("2023-07-03", periods=weeks, freq="7D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "dealer_id": [f"D{p % 4:03d}" for p in range(pairs) for _ in range(weeks)],
            "sku": [
                f"=SKU-{p:04d}" if p == 3 else f"SKU-{p:04d}"
                for p in range(pairs)
                for _ in range(weeks)
            ],  # fmt: skip
            "week_start": list(week_starts) * pairs,
            "qty_sold": [float((p * 7 + w) % 13) for p in range(pairs) for w in range(weeks)],
            "is_censored": [(p + w) % 17 == 0 for p in range(pairs) for w in range(weeks)],
        }
    )


def test_history_is_written_compressed_and_read_back_equal(tmp_path: Path) -> None:
    history = _history()
    folder = publish_run(tmp_path, AS_OF, "run-1", {"history": history}, {"run_id": "run-1"})
    assert sorted(p.name for p in folder.iterdir()) == ["history.csv.gz", "run_summary.json"]
    packed = folder / "history.csv.gz"
    assert table_path(folder, "history") == packed
    assert packed.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    back = read_run_table(folder, "history")
    assert back["dealer_id"].tolist() == history["dealer_id"].tolist()
    assert back["sku"].tolist() == history["sku"].tolist()  # "=SKU-0003" restored
    assert back["week_start"].tolist() == history["week_start"].tolist()
    assert back["qty_sold"].tolist() == history["qty_sold"].tolist()
    assert back["is_censored"].tolist() == history["is_censored"].astype(str).tolist()
    # Plain pandas and DuckDB read the file as it is (the formula cell neutralised).
    raw = pd.read_csv(packed)
    assert len(raw) == len(history) and "'=SKU-0003" in set(raw["sku"])
    rows = duckdb.sql(f"select count(*), sum(qty_sold) from read_csv('{packed}')").fetchall()[0]
    assert rows == (len(history), history["qty_sold"].sum())
    # The same tables give the same bytes (no time stamp in the gzip header).
    again = publish_run(tmp_path / "b", AS_OF, "run-2", {"history": history}, {})
    assert (again / "history.csv.gz").read_bytes() == packed.read_bytes()
    assert gzip.decompress(packed.read_bytes()).startswith(b"dealer_id,sku,week_start")


def test_old_run_folders_with_a_plain_history_still_read(tmp_path: Path) -> None:
    history = _history(pairs=5)
    new = publish_run(tmp_path / "new", AS_OF, "run-1", {"history": history}, {})
    old = tmp_path / "old"
    old.mkdir()
    pd.read_csv(new / "history.csv.gz").to_csv(old / "history.csv", index=False)
    assert table_path(old, "history") == old / "history.csv"
    pd.testing.assert_frame_equal(read_run_table(old, "history"), read_run_table(new, "history"))
    # The workbench's drill-down reads either.
    for folder in (old, new):
        series = pair_series(folder, "D001", "SKU-0001")
        assert len(series["history"]) == 104
        expected = history[history.sku == "SKU-0001"]
        assert [w["qty"] for w in series["history"]] == expected["qty_sold"].tolist()
        assert [w["censored"] for w in series["history"]] == expected["is_censored"].tolist()


def test_a_run_folder_report_reads_a_plain_history(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    history = pd.read_csv(run_dir / "history.csv.gz")
    (run_dir / "history.csv.gz").unlink()
    history.to_csv(run_dir / "history.csv", index=False)
    data = decode_payload(build_report(run_dir).read_text(encoding="utf-8"))
    assert len(data["hist_weeks"]) == 104 and data["hist"][0]
    assert all(any(v is not None for v in row) for row in data["hist"])


# ------------------------------------------------------------------------------ run_summary


def _files(count: int) -> list[dict]:
    files = []
    for i in range(count):
        status = "accepted"
        if i % 100 == 7:
            status = "partial"
        elif i % 250 == 11:
            status = "rejected"
        elif i == 5:
            status = "duplicate"
        files.append(
            {
                "path": f"landing/sell_through/d{i:05d}.csv",
                "feed": "sell_through",
                "status": status,
                "rows_read": 10 + i % 5,
                "rows_accepted": 10 + i % 5 - (2 if status == "partial" else 0),
                "rows_quarantined": 2 if status == "partial" else 0,
                "reason": '=HYPERLINK("x") missing column' if status == "rejected" else "",
            }
        )
    return files


def _summary(files: list[dict]) -> dict:
    return {
        "run_id": "run-1",
        "as_of": AS_OF.isoformat(),
        "warehouse": "w.duckdb",
        "data_docs": None,
        "files": files,
        "stages": [{"name": "ingest", "seconds": 1.0, "rows": 1}],
        "alerts": {},
    }


def test_thousands_of_files_go_to_files_csv(tmp_path: Path) -> None:
    files = _files(1_200)
    folder = publish_run(tmp_path, AS_OF, "run-1", {}, _summary(files))
    table = pd.read_csv(folder / "files.csv", dtype=str, keep_default_na=False)
    assert len(table) == 1_200
    assert table.columns.tolist() == list(files[0])
    # Neutralised like every run-folder CSV: a formula is text to a spreadsheet.
    assert set(table.loc[table.status == "rejected", "reason"]) == {
        '\'=HYPERLINK("x") missing column'
    }
    summary = json.loads((folder / "run_summary.json").read_text(encoding="utf-8"))
    not_accepted = [f for f in files if f["status"] != "accepted"]
    assert summary["files"] == not_accepted and 0 < len(not_accepted) < 1_200
    assert summary["files_total"] == 1_200
    statuses = pd.Series([f["status"] for f in files]).value_counts().to_dict()
    assert summary["files_by_status"] == statuses and sum(statuses.values()) == 1_200
    assert summary["files_table"] == "files.csv"
    assert list(summary)[:8] == [
        "run_id", "as_of", "warehouse", "data_docs", "files", "files_total", "files_by_status",
        "files_table",
    ]  # fmt: skip
    # Readers get every entry back, as they were.
    assert read_run_files(folder) == files
    assert (folder / "run_summary.json").stat().st_size < 0.2 * len(json.dumps(files))


def test_the_report_and_the_markdown_count_every_file(tmp_path: Path) -> None:
    run_dir = make_run_folder(tmp_path / "out")
    files = _files(1_200)
    summary = read_run_summary(run_dir)
    published = publish_run(tmp_path / "pub", AS_OF, "run-1", {}, {**summary, "files": files})
    for name in ("files.csv", "run_summary.json"):
        (run_dir / name).write_bytes((published / name).read_bytes())
    head = run_header(run_dir, read_run_summary(run_dir), lines_with_items(run_dir),
                      read_run_table(run_dir, "alerts"))  # fmt: skip
    assert head["files_total"] == 1_200
    assert head["rows_read"] == sum(f["rows_read"] for f in files)
    assert head["rows_accepted"] == sum(f["rows_accepted"] for f in files)
    assert [f["path"] for f in head["rejected"]] == [
        f["path"] for f in files if f["status"] == "rejected"
    ]
    html = build_report(run_dir).read_text(encoding="utf-8")
    assert re.search(r'<span class="big">1200</span>files', html)
    text = report_summary_markdown(run_dir)
    rows_read = sum(f["rows_read"] for f in files)
    assert f"| {rows_read} |" in text or f"| {rows_read:,} |" in text


def test_a_few_files_change_nothing(tmp_path: Path) -> None:
    files = _files(10)
    summary = _summary(files)
    folder = publish_run(tmp_path, AS_OF, "run-1", {}, summary)
    assert not (folder / "files.csv").exists()
    assert read_run_summary(folder) == summary
    assert read_run_files(folder) == files
    # The limit itself: exactly SUMMARY_MAX_FILES files stay in run_summary.json.
    summary = _summary(_files(SUMMARY_MAX_FILES))
    folder = publish_run(tmp_path / "b", AS_OF, "run-1", {}, summary)
    assert not (folder / "files.csv").exists() and read_run_summary(folder) == summary


# Sizes of a 20,000-line run are printed by benchmarks/bench_outputs.py, never asserted here.
