"""`dealer_network=True` adds its features from streams of their own: every other file of the
world is byte-identical to the world without them, and the streamed files equal the in-memory
world's whatever the block size."""

from __future__ import annotations

import pandas as pd

import sampledata
from sampledata import build_world, write_landing
from tests.sampledata.test_sampledata import digest_tree

WORLD = dict(dealers=6, skus=12, days=400, seed=5)


def test_only_the_features_files_differ_from_the_plain_world(tmp_path):
    plain = tmp_path / "plain"
    network = tmp_path / "network"
    sampledata.generate(plain, **WORLD)
    sampledata.generate(network, dealer_network=True, **WORLD)
    before, after = digest_tree(plain), digest_tree(network)
    assert set(after) - set(before) == {"master/price_list.csv", "master/supply.csv"}
    world = build_world(dealer_network=True, **WORLD)
    slider, seller = world.features.slide_dealer, world.features.cross_dealer
    assert slider and seller and slider != seller
    changed = {path for path in before if before[path] != after[path]}
    # The sliding dealer's and the seller's own files; the shipment files (all dealers, and
    # the ids after the slider's are numbered on) and the truth file (all dealers).
    allowed = {
        path
        for path in before
        if path.split("/")[-1].startswith((f"{slider}_", f"{seller}_"))
        or path.startswith(("shipments/", "truth/"))
    }
    assert changed <= allowed
    assert any(path.startswith(f"sell_through/{seller}_") for path in changed)
    assert any(path.startswith(f"inventory/{slider}_") for path in changed)


def test_streamed_network_world_equals_the_in_memory_one(tmp_path):
    sampledata.generate(tmp_path / "streamed", dealer_network=True, per_block=2, **WORLD)
    write_landing(build_world(dealer_network=True, **WORLD), tmp_path / "whole")
    assert digest_tree(tmp_path / "streamed") == digest_tree(tmp_path / "whole")


def test_price_list_and_supply_cap_the_best_sellers(tmp_path):
    world = build_world(dealer_network=True, **WORLD)
    sold = world.true_demand_frame().groupby("sku")["demand"].sum()
    supply = world.supply_caps.set_index("sku")["available_qty"]
    # The capped SKUs are the best sellers, at about two days of their demand (x 0.8-1.2).
    assert set(supply.index) == set(sold.nlargest(len(supply)).index)
    daily = sold / world.days
    assert ((supply >= 1.6 * daily[supply.index] - 1) & (supply <= 2.4 * daily[supply.index])).all()
    prices = world.price_list.set_index("sku")["list_price"]
    usual = world.skus.set_index("sku")["list_price"]
    pd.testing.assert_series_equal(prices, (usual * 0.97).round(2), check_names=False)
