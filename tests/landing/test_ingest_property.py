"""Property: whatever corruption a delivery carries, nothing is lost and nothing is altered."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landing.ingest import ingest_landing

AS_OF = date(2024, 3, 1)
DEALER_IDS = ["D1", "D2", "D3"]
SKU_IDS = ["S1", "S2", "S3", "S4"]
CORRUPTIONS = ["none", "drop_cell", "garble_number", "blank_key", "duplicate", "future_date"]

row_strategy = st.tuples(
    st.sampled_from(DEALER_IDS),
    st.sampled_from(SKU_IDS),
    st.integers(min_value=0, max_value=59).map(lambda d: date(2024, 1, 1) + timedelta(days=d)),
    st.integers(min_value=-20, max_value=500),
    st.sampled_from(CORRUPTIONS),
    st.sampled_from(["dealer_id", "sku", "date", "qty_sold"]),
)
delivery_strategy = st.lists(
    row_strategy, min_size=1, max_size=30, unique_by=lambda row: (row[0], row[1], row[2])
)


def write_master(landing: Path) -> None:
    (landing / "master").mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(
        "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,"
        "review_period_days\n" + "".join(f"{d},n,r,t,7,1,7\n" for d in DEALER_IDS)
    )
    (landing / "master" / "skus.csv").write_text(
        "sku,description,category,unit_cost,pack_size,moq\n"
        + "".join(f"{s},d,c,1,1,0\n" for s in SKU_IDS)
    )


def build_file(rows: list[tuple], delimiter: str) -> tuple[str, dict[int, dict], set[int]]:
    """File text, the clean source value of every line, and the lines that must be quarantined.

    The expected verdict is derived from the corruption applied, independently of the code.
    """
    header = delimiter.join(["dealer_id", "sku", "date", "qty_sold"])
    lines: list[list[str]] = []
    bad: set[int] = set()
    source: dict[int, dict] = {}
    for dealer, sku, day, qty, corruption, column in rows:
        cells = {"dealer_id": dealer, "sku": sku, "date": day.isoformat(), "qty_sold": str(qty)}
        line = len(lines) + 2
        if corruption == "drop_cell":
            cells[column] = ""
        elif corruption == "garble_number":
            cells["qty_sold"] = f"{qty}x"
        elif corruption == "blank_key":
            cells["dealer_id"] = ""
        elif corruption == "future_date":
            cells["date"] = "2031-06-01"
        lines.append([cells[name] for name in ("dealer_id", "sku", "date", "qty_sold")])
        source[line] = cells
        if corruption != "none":
            bad.add(line)
        if corruption == "duplicate":
            lines.append(list(lines[-1]))
            source[line + 1] = dict(cells)
            bad.add(line + 1)
    text = "\n".join([header] + [delimiter.join(cells) for cells in lines]) + "\n"
    return text, source, bad


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deliveries=st.lists(delivery_strategy, min_size=1, max_size=2),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_rows_read_equal_accepted_plus_quarantined_and_accepted_rows_are_verbatim(
    deliveries, delimiter
):
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        write_master(landing)
        (landing / "sell_through").mkdir()
        expected: dict[str, tuple[dict[int, dict], set[int]]] = {}
        for number, rows in enumerate(deliveries):
            text, source, bad = build_file(rows, delimiter)
            name = f"sell_through/delivery_{number}.csv"
            (landing / name).write_text(text)
            expected[name] = (source, bad)
        con = duckdb.connect()
        result = ingest_landing(landing, con, run_id="prop", as_of=AS_OF)

        for entry in result.files:
            assert entry["rows_read"] == entry["rows_accepted"] + entry["rows_quarantined"]
        for name, (source, bad) in expected.items():
            entry = next(e for e in result.files if e["path"] == name)
            if entry["status"] == "duplicate":  # two generated deliveries happened to be equal
                continue
            assert entry["rows_read"] == len(source)
            quarantined = set(
                result.quarantine.loc[result.quarantine["source_file"] == name, "line"]
            )
            assert quarantined == bad
            loaded = con.execute(
                "select line, dealer_id, sku, date, qty_sold from raw.sell_through "
                "where source_file = ? order by line",
                [name],
            ).fetchall()
            assert {line for line, *_ in loaded} == set(source) - bad
            for line, dealer, sku, day, qty in loaded:
                cells = source[line]
                assert (dealer, sku, day.isoformat(), qty) == (
                    cells["dealer_id"],
                    cells["sku"],
                    cells["date"],
                    float(cells["qty_sold"]),
                )
