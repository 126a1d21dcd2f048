"""The workbench in real Chromium (Debian's, through Playwright with ``executable_path``).

Sign in, see the front page's charts, filter to one dealer, type an invalid quantity (the rule
shows inline, nothing is saved), change one, hold one, snooze one, approve; the order files and
the audit table hold exactly those changes; a second planner editing the same line with the
version it loaded gets the conflict message. Screenshots land in the test's folder (and in
``$VMI_SCREENSHOTS`` when set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import AS_OF, PASSWORDS

from warehouse.workbench import Store

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000  # a safety net against a hung page, not a speed assertion

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def open_as(browser, served, name: str, problems: list[str]):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: (
            problems.append(f"off-site {r.url}")
            if not r.url.startswith((served.url, "data:"))
            else None
        ),
    )
    page.goto(f"{served.url}/")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-charts-ready='1']")
    return page


def row(page, dealer: str, sku: str):
    return page.locator(f"tr.line[data-dealer='{dealer}'][data-sku='{sku}']")


def save(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("VMI_SCREENSHOTS"):
        target = Path(os.environ["VMI_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def test_a_planner_reviews_edits_and_approves_in_chromium(chromium, served, run_out, tmp_path):
    problems: list[str] = []
    ann = open_as(chromium, served, "ann", problems)

    # front page: three charts drawn on load, with data
    for canvas in ("chart-cover", "chart-exceptions", "chart-trend"):
        points = ann.evaluate(
            "id => window.Chart.getChart(document.getElementById(id)).data.labels.length", canvas
        )
        assert points > 0, canvas
    dealers = ann.evaluate(
        "() => window.Chart.getChart(document.getElementById('chart-cover')).data.labels"
    )
    assert sorted(dealers) == ["D001", "D002", "D003", "D004"]  # least covered first
    save(ann, tmp_path, "front")

    # the grid, filtered to one dealer
    ann.click("text=Review the lines")
    ann.wait_for_selector("#lines")
    ann.select_option("select[name=dealer_id]", "D002")
    ann.wait_for_function(
        "() => [...document.querySelectorAll('tr.line')].every(r => r.dataset.dealer === 'D002')"
    )
    assert ann.evaluate("document.documentElement.scrollWidth") <= 1366

    frame = pd.read_csv(run_out / "runs" / AS_OF / "suggestions.csv", dtype={"dealer_id": str})
    mine = frame[(frame["dealer_id"] == "D002") & (frame["suggested_qty"] > 0)]
    packed = mine[mine["pack_size"] > 1].sort_values("sku").iloc[0]
    others = mine[mine["sku"] != packed.sku].sort_values("sku")
    held, snoozed = others.iloc[0], others.iloc[1]
    pack = int(packed.pack_size)

    # a second planner loads the same page before ann edits the line
    problems_bob: list[str] = []
    bob = open_as(chromium, served, "bob", problems_bob)
    bob.goto(f"{served.url}/runs/{AS_OF}/lines?dealer_id=D002")
    bob.wait_for_selector("#lines")

    # an invalid quantity: the rule shows as it is typed, and nothing is saved
    qty = row(ann, "D002", packed.sku).locator("input[name=qty]")
    qty.fill(str(pack + 1))
    rule = row(ann, "D002", packed.sku).locator(".rule")
    rule.wait_for(state="visible")
    assert f"multiple of pack {pack}" in rule.inner_text()
    qty.press("Enter")
    qty.blur()
    assert Store.beside(run_out).line_state(AS_OF, "D002", packed.sku)["version"] == 0

    # a valid change, a hold and a snooze, each saved through the API
    new_qty = int(packed.suggested_qty) + 2 * pack
    qty.fill(str(new_qty))
    qty.blur()
    status = row(ann, "D002", packed.sku).locator(".status")
    status.filter(has_text="saved").wait_for()
    row(ann, "D002", held.sku).locator("input[name=hold]").check()
    row(ann, "D002", held.sku).locator(".status").filter(has_text="saved").wait_for()
    snooze = row(ann, "D002", snoozed.sku).locator("input[name=snooze_until]")
    snooze.fill("2025-07-21")
    snooze.blur()
    row(ann, "D002", snoozed.sku).locator(".status").filter(has_text="saved").wait_for()

    # the drill-down opens beside the grid, in view
    row(ann, "D002", packed.sku).locator(".open-detail").click()
    ann.wait_for_selector("#chart-line")
    box = ann.locator("#detail").bounding_box()
    assert box["y"] < 900 and box["x"] > 700
    save(ann, tmp_path, "grid_and_drilldown")

    # bob, holding version 0 of the same line, gets the conflict, not an overwrite
    bob_qty = row(bob, "D002", packed.sku).locator("input[name=qty]")
    bob_qty.fill(str(pack * 10))
    bob_qty.blur()
    conflict = row(bob, "D002", packed.sku).locator(".status.conflict")
    conflict.wait_for()
    assert "conflict" in conflict.inner_text() and "ann" in conflict.inner_text()
    assert bob_qty.input_value() == str(new_qty)  # bob now sees ann's value

    # approve, with a summary first
    ann.click("#approve-open")
    ann.locator("#approve-summary li").first.wait_for()
    assert "held or snoozed" in ann.locator("#approve-summary").inner_text()
    ann.click("#approve-confirm")
    ann.wait_for_selector("#approved-notice")
    save(ann, tmp_path, "approved")

    run = run_out / "runs" / AS_OF
    orders = pd.concat(
        pd.read_csv(p, dtype={"dealer_id": str}) for p in (run / "orders").glob("*.csv")
    )
    d002 = orders[orders["dealer_id"] == "D002"].set_index("sku")
    assert d002.loc[packed.sku, "qty"] == new_qty
    assert held.sku not in d002.index and snoozed.sku not in d002.index
    expected_rest = mine[~mine["sku"].isin([packed.sku, held.sku, snoozed.sku])]
    assert sorted(d002.drop(index=packed.sku).index) == sorted(expected_rest["sku"])
    edits = [
        (r["user"], r["sku"], r["field"], r["new"])
        for r in Store.beside(run_out).audit(as_of=AS_OF)
        if r["action"] == "edit"
    ]
    assert edits == [
        ("ann", packed.sku, "qty", str(new_qty)),
        ("ann", held.sku, "hold", "True"),
        ("ann", snoozed.sku, "snooze_until", "2025-07-21"),
    ]
    assert problems == []
    # Chromium logs the 409 answer bob got as a failed resource; nothing else may show
    assert [p for p in problems_bob if "status of 409" not in p] == []
