"""The compiled checks (landing/rules.py) give Great Expectations' own verdicts.

Every feed's committed suite is run twice over the same typed batch: once by GX's pandas engine
(`engine="gx"`, the reference) and once compiled (`engine="compiled"`, what ingest runs). The
failing rows, their rules and columns, and each expectation's counts must be identical, on
random batches drawn from valid, edge and broken values, and on the shipped hostile fixtures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landing.readers import file_facts, open_table
from landing.schema import BOOLEAN, DATE, FEEDS, FEEDS_BY_NAME, INTEGER, NUMBER
from landing.validate import coerce, validate_frame

AS_OF = date(2024, 3, 1)
HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
KNOWN_DEALERS = {"D1", "D2", "<b>D3</b>"}
KNOWN_SKUS = {"S1", "S2", "S 3"}

IDS = ["D1", "D2", "D9", "S1", "S2", "S 3", "S9", "", " ", "x" * 201, "<b>D3</b>", "A", "B", "Z"]
NUMBERS = ["0", "1", "-1", "2.5", "-1000", "-1001", "100000", "100001", "365", "366", "0.5", "",
           "1.0", "1e3", "abc", "12"]  # fmt: skip
DATES = ["2024-02-29", "2024-03-01", "2024-03-02", "2014-02-28", "2014-03-01", "2025-03-01",
         "2025-03-03", "20240101", "2024/01/05", "", "not a date"]  # fmt: skip
BOOLEANS = ["true", "false", "yes", "", "maybe"]


def _values(kind: str) -> list[str]:
    return {NUMBER: NUMBERS, INTEGER: NUMBERS, DATE: DATES, BOOLEAN: BOOLEANS}.get(kind, IDS)


def _batch(feed, rows: list[dict]) -> pd.DataFrame:
    strings = pd.DataFrame(rows, columns=feed.column_names, dtype=object).fillna("")
    strings.index = pd.RangeIndex(2, 2 + len(strings))
    typed, type_failures = coerce(feed, strings)
    checked = typed.drop(index=type_failures["row"].unique())
    # Two source files, so the duplicate rule's per-file key is exercised.
    return checked.assign(source_file=["a.csv" if i % 3 else "b.csv" for i in range(len(checked))])


def _both(feed, frame: pd.DataFrame):
    runs = {}
    for engine in ("gx", "compiled"):
        kept: list = []
        failures = validate_frame(
            feed,
            frame,
            known_dealers=KNOWN_DEALERS,
            known_skus=KNOWN_SKUS,
            as_of=AS_OF,
            keep_results=kept,
            engine=engine,
        )
        rows = sorted(failures[["row", "rule", "column"]].itertuples(index=False, name=None))
        # GX lists results in its own order: compare them by expectation id.
        counts = sorted(
            (o.expectation_config.id, o.expectation_config.type, o.success,
             o.result.get("unexpected_count"), o.result.get("missing_count"),
             o.result.get("element_count"), o.result.get("partial_unexpected_index_list"))
            for o in kept[0].results
        ) if kept else []  # fmt: skip
        runs[engine] = (rows, counts)
    return runs["gx"], runs["compiled"]


@st.composite
def feed_batches(draw):
    feed = draw(st.sampled_from(FEEDS))
    row = st.fixed_dictionaries(
        {column.name: st.sampled_from(_values(column.kind)) for column in feed.columns}
    )
    rows = draw(st.lists(row, min_size=1, max_size=25))
    if len(rows) > 2 and draw(st.booleans()):
        rows.append(dict(rows[0]))  # an exact repeat: a duplicate key for sure
    return feed, rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed_batches())
def test_compiled_checks_fail_the_same_rows_as_gx(batch):
    feed, rows = batch
    frame = _batch(feed, rows)
    if frame.empty:
        return
    reference, compiled = _both(feed, frame)
    assert compiled == reference


def hostile_files() -> list[tuple[str, Path]]:
    return [
        (folder, path)
        for folder in ("sell_through", "inventory", "shipments")
        for path in sorted((HOSTILE / folder).iterdir())
    ]


def test_compiled_checks_match_gx_on_the_hostile_fixtures():
    compared = 0
    for folder, path in hostile_files():
        feed = FEEDS_BY_NAME[folder]
        try:
            table = open_table(
                path,
                facts=file_facts(path),
                known_columns=feed.column_names,
                required_columns=feed.required_columns,
            )
            chunks = list(table.chunks)
        except Exception:  # noqa: BLE001 - files rejected whole never reach the rules
            continue
        strings = pd.concat(chunks)
        if strings.empty or any(name not in strings for name in feed.required_columns):
            continue
        strings = strings[[name for name in strings.columns if name in feed.column_names]]
        typed, type_failures = coerce(feed, strings)
        frame = typed.drop(index=type_failures["row"].unique()).assign(source_file=path.name)
        if frame.empty:
            continue
        reference, compiled = _both(feed, frame)
        assert compiled == reference, path.name
        compared += 1
    assert compared >= 10  # the fixtures do reach the rules
