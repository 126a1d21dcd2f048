"""The dealer portal in real Chromium (Debian's, through Playwright with ``executable_path``).

A dealer user signs in and lands on its own portal (not the planners' overview), sees its
stock-cover chart drawn with its own SKUs, its lines with the notes meant for it and none of
the internal ones, and its scorecard. Nothing is loaded from another site and the page logs no
error (the CSP forbids inline script: the chart comes from static/workbench.js).
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import AS_OF, DEALER_MARK, INTERNAL_MARK, PASSWORDS
from test_web_browser import TIMEOUT_MS, chromium, save  # noqa: F401 (chromium: a fixture)

pytestmark = pytest.mark.browser


def test_a_dealer_sees_its_cover_lines_and_scorecard(chromium, portal_world, tmp_path):  # noqa: F811
    served = portal_world.served
    problems: list[str] = []
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: None if r.url.startswith((served.url, "data:")) else problems.append(r.url),
    )
    page.goto(f"{served.url}/login")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=password]", PASSWORDS["dora"])
    page.click("button[type=submit]")
    page.wait_for_url("**/portal/D001")
    page.wait_for_selector("body[data-portal-ready='1']")

    lines = pd.read_csv(
        portal_world.out / "runs" / AS_OF / "suggestions.csv", dtype={"dealer_id": str}
    )
    mine = lines[(lines["dealer_id"] == "D001") & (lines["avg_daily_demand"] > 0)]
    chart = page.evaluate(
        "() => { const c = window.Chart.getChart(document.getElementById('chart-portal-cover'));"
        " return {labels: c.data.labels, days: c.data.datasets[0].data}; }"
    )
    assert sorted(chart["labels"]) == sorted(mine["sku"])
    expected = (mine["inventory_position"] / mine["avg_daily_demand"]).sort_values()
    assert chart["days"] == pytest.approx(expected.tolist())
    assert page.locator("#cover-table tbody tr").count() == (lines["dealer_id"] == "D001").sum()
    save(page, tmp_path, "portal_cover")

    page.click("text=Order lines and files")
    page.wait_for_selector("#portal-lines")
    text = page.locator("main").inner_text()
    assert f"{DEALER_MARK} D001 SKU-00001" in text and INTERNAL_MARK not in text
    assert INTERNAL_MARK not in page.content()
    assert page.locator("#export-files a").count() == 2
    save(page, tmp_path, "portal_lines")

    page.click("text=Scorecard")
    page.wait_for_selector("#escalation-state")
    assert "warning since the quarter of 2025-04-01" in page.inner_text("#escalation-state")
    assert page.inner_text("#tier") == "gold"
    save(page, tmp_path, "portal_scorecard")

    # the planners' pages stay closed to the dealer
    page.goto(f"{served.url}/runs/{AS_OF}/lines")
    assert "dealers see the dealer portal only" in page.inner_text("main")
    assert [p for p in problems if "status of 403" not in p] == []
    context.close()
