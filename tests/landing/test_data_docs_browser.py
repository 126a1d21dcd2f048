"""Data Docs built from a landing full of script payloads, opened in Debian's Chromium.

GX renders unexpected values as raw HTML; `landing.validate.compact_result` escapes them, so a
quarantined value such as ``<img src=x onerror=...>`` shows as text and runs nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from landing.ingest import ingest_landing
from landing.validate import PROJECT_ROOT, build_data_docs

CHROMIUM = Path("/usr/bin/chromium")
PAYLOADS = [
    "<img src=x onerror=document.title='XSS'>",
    "<script>document.title='XSS'</script>",
    "\"><svg onload=document.title='XSS'>",
]

pytestmark = pytest.mark.browser


def test_script_payloads_in_feeds_stay_text_in_data_docs(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `make browser` installs Debian's chromium")
    project = tmp_path / "expectations"
    shutil.copytree(PROJECT_ROOT, project, ignore=shutil.ignore_patterns("uncommitted"))
    landing = tmp_path / "landing"
    for folder in ("master", "sell_through"):
        (landing / folder).mkdir(parents=True)
    (landing / "master" / "dealers.csv").write_text(
        "dealer_id,dealer_name,region,territory,lead_time_days,lead_time_sd_days,"
        "review_period_days\nD1,One,North,T1,7,1,7\n"
    )
    (landing / "master" / "skus.csv").write_text(
        "sku,description,category,unit_cost,pack_size,moq\nS1,Widget,c,10,6,0\n"
    )
    rows = ["dealer_id,sku,date,qty_sold"]
    for payload in PAYLOADS:
        quoted = '"' + payload.replace('"', '""') + '"'
        rows += [
            f"D1,{quoted},2024-01-05,3",
            f"{quoted},S1,2024-01-05,3",
            f"D1,S1,{quoted},3",
            f"D1,S1,2024-01-05,{quoted}",
        ]
    (landing / "sell_through" / "jan.csv").write_text("\n".join(rows) + "\n")
    result = ingest_landing(landing, duckdb.connect(), run_id="hostile", as_of=None)
    index = build_data_docs(result.validations, run_name="hostile", project_root=project)
    pages = [index, *sorted((index.parent / "validations").rglob("*.html"))]
    assert any("onerror" in p.read_text() for p in pages[1:])  # the payloads did reach the docs

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            assert page.title() != "XSS", path
            injected = page.evaluate(
                "() => document.querySelectorAll('img[src=\"x\"], svg[onload], [onerror]').length"
            )
            assert injected == 0, path
        sales = next(p for p in pages if "sell_through" in p.parts)
        page.goto(sales.as_uri())
        assert "<img src=x onerror=document.title='XSS'>" in page.inner_text("body")
        browser.close()
    assert dialogs == []
