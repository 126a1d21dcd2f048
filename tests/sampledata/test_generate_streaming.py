"""`generate` streams the world a block of dealers at a time and writes the in-memory world's files.

The reference is the in-memory path, ``write_landing(build_world(...))``: one block holding every
dealer. Streaming in blocks of one or two dealers must write the very same bytes (the demand
draw is cut into blocks, the monthly shipment files are appended to, the truth file gets a row
group per dealer), and progress comes as one line per block.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_sampledata import digest_tree

import sampledata
from sampledata.demand import DemandNoise

WORLD = dict(dealers=5, skus=12, days=120, seed=3)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("in-memory")
    counts = sampledata.write_landing(sampledata.build_world(**WORLD), out)
    return out, counts


@pytest.mark.parametrize("per_block", [1, 2])
def test_streaming_writes_the_in_memory_worlds_files(tmp_path, reference, per_block):
    root, counts = reference
    streamed = sampledata.generate(tmp_path, per_block=per_block, **WORLD)
    assert digest_tree(tmp_path) == digest_tree(root)
    assert {k: streamed[k] for k in ("files", "rows")} == {k: counts[k] for k in ("files", "rows")}


def test_streamed_files_hold_every_dealer_and_unique_keys(tmp_path):
    counts = sampledata.generate(tmp_path, per_block=2, **WORLD)
    dealers = pd.read_csv(tmp_path / "master/dealers.csv")["dealer_id"]
    for feed in ("sell_through", "inventory"):
        names = [p.name for p in (tmp_path / feed).iterdir()]
        assert {name.split("_")[0] for name in names} == set(dealers)
    shipments = pd.concat(
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted((tmp_path / "shipments").iterdir())
    )
    assert len(shipments) == counts["rows"]["shipments"]
    assert shipments["shipment_id"].is_unique and set(shipments["dealer_id"]) == set(dealers)
    truth = pd.read_parquet(tmp_path / "truth/true_demand.parquet")
    assert len(truth) == counts["rows"]["true_demand"]
    assert not truth.duplicated(["dealer_id", "sku", "date"]).any()


def test_a_second_run_into_the_same_folder_rewrites_the_monthly_shipment_files(tmp_path):
    sampledata.generate(tmp_path, per_block=2, **WORLD)
    first = digest_tree(tmp_path)
    sampledata.generate(tmp_path, per_block=3, **WORLD)
    assert digest_tree(tmp_path) == first


def test_demand_drawn_in_blocks_is_the_whole_draw():
    world = sampledata.build_world(dealers=7, skus=9, days=60, seed=5)
    cells = 9 * 60
    # Skipping in chunks of two dealers, drawing in blocks of three.
    noise = DemandNoise(world.params, world.dates, seed=5, skip_cells=2 * cells)
    blocks = [noise.draw(stop) for stop in (3, 6, 7)]
    np.testing.assert_array_equal(np.concatenate(blocks), world.demand)
    with pytest.raises(ValueError, match="in order"):
        noise.draw(7)


def test_progress_is_one_line_per_block(tmp_path):
    messages: list[str] = []
    sampledata.generate(tmp_path, per_block=2, progress=messages.append, **WORLD)
    blocks = [m for m in messages if m.startswith("generated ")]
    assert [m.split(" (")[0] for m in blocks] == [
        "generated 2/5 dealers",
        "generated 4/5 dealers",
        "generated 5/5 dealers",
    ]
    assert all(re.fullmatch(r"generated \d+/5 dealers \(\d+ s\)", m) for m in blocks)


@pytest.mark.timeout(300)
def test_cli_prints_progress_on_stderr_and_only_the_summary_on_stdout(tmp_path):
    # 2,000 SKUs make the default block two dealers, so three dealers take two blocks.
    args = ["--dealers", "3", "--skus", "2000", "--days", "28", "--seed", "4"]
    cli = [sys.executable, "-m", "flows.cli", "generate"]
    loud = subprocess.run(
        [*cli, "--out", str(tmp_path / "a"), *args], capture_output=True, text=True, timeout=240
    )
    assert loud.returncode == 0, loud.stderr
    progress = [line.strip() for line in loud.stderr.splitlines() if "generated" in line]
    assert [line.split(" (")[0] for line in progress] == [
        "generated 2/3 dealers",
        "generated 3/3 dealers",
    ]
    first, summary = loud.stdout.splitlines()
    assert first == f"landing written to {tmp_path / 'a'}"
    counts = json.loads(summary)
    assert counts["rows"]["dealers"] == 3 and counts["seed"] == 4

    quiet = subprocess.run(
        [*cli, "--out", str(tmp_path / "b"), *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert json.loads(quiet.stdout.splitlines()[1]) == {**counts, "out_dir": str(tmp_path / "b")}
    assert digest_tree(tmp_path / "b") == digest_tree(tmp_path / "a")
