"""Workbench page loads on a run of 20,000 lines, served by uvicorn, loaded in Chromium.

Writes a synthetic run folder with every contract file (the tests' ``make_run_folder``: 40
dealers x 500 SKUs, 104 weeks of history), serves it with `web.app.create_app` on loopback
and prints, per page, the server time of the HTTP answer (cold: first request after start;
warm: the median of five) and, in Debian's Chromium, the time from navigation to the page
being usable (front page: charts drawn; grid: table present), and the time the same run's
static report.html takes to be ready from its file. Printed, never asserted.

    python benchmarks/bench_workbench.py [--dealers 40] [--skus 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "planner"))
sys.path.insert(0, str(ROOT / "tests" / "web"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dealers", type=int, default=40)
    parser.add_argument("--skus", type=int, default=500)
    args = parser.parse_args(argv)

    from conftest import PASSWORDS, Served
    from test_report import make_run_folder

    from web.settings import WebSettings
    from web.users import add_user

    as_of = "2025-06-30"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        make_run_folder(out, as_of, dealers=args.dealers, skus=args.skus, stale_dealer=None)
        print(f"run folder written in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        users = Path(tmp) / "users.json"
        add_user(users, "ann", "planner", PASSWORDS["ann"])
        results: dict = {"benchmark": "workbench", "lines": args.dealers * args.skus}
        settings = WebSettings(out=out, users_file=users, secret_key="bench")
        with Served(settings) as served:
            client, _ = served.signed_in("ann")
            pages = {
                "front page": "/",
                "overview API": f"/api/runs/{as_of}/overview",
                "grid page": f"/runs/{as_of}/lines",
                "grid, one dealer": f"/runs/{as_of}/lines?dealer_id=D007",
                "lines API, sorted by cover": f"/api/runs/{as_of}/lines?sort=days_cover",
                "drill-down": f"/runs/{as_of}/lines/D001/SKU-00001/detail",
            }
            for name, path in pages.items():
                started = time.perf_counter()
                assert client.get(path).status_code == 200, path
                cold = time.perf_counter() - started
                warm = []
                for _ in range(5):
                    started = time.perf_counter()
                    client.get(path)
                    warm.append(time.perf_counter() - started)
                results[name] = {
                    "cold_s": round(cold, 3),
                    "warm_s": round(statistics.median(warm), 3),
                }
                median = statistics.median(warm) * 1000
                print(
                    f"{name:28s} cold {cold * 1000:7.0f} ms   warm {median:6.0f} ms",
                    file=sys.stderr,
                )
            results["browser"] = browser_times(served, as_of, out)
    print(json.dumps(results))
    return results


def browser_times(served, as_of: str, out: Path) -> dict:
    from conftest import PASSWORDS
    from playwright.sync_api import sync_playwright

    times = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{served.url}/login")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORDS["ann"])
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-charts-ready='1']")
        for name, path, ready in (
            ("front page, charts drawn", "/", "body[data-charts-ready='1']"),
            ("grid page, table shown", f"/runs/{as_of}/lines", "#lines tr.line"),
        ):
            started = time.perf_counter()
            page.goto(f"{served.url}{path}")
            page.wait_for_selector(ready)
            seconds = time.perf_counter() - started
            times[name] = round(seconds, 3)
            print(f"browser: {name:26s} {seconds * 1000:7.0f} ms", file=sys.stderr)
        # the static report.html of the same run, opened from the file (its offline export)
        from planner.report import build_report

        report = build_report(out / "runs" / as_of)
        started = time.perf_counter()
        page.goto(report.as_uri())
        page.wait_for_function("window.vmiReadyMs !== undefined")
        seconds = time.perf_counter() - started
        times["report.html, ready"] = round(seconds, 3)
        times["report.html, MB"] = round(report.stat().st_size / 1e6, 2)
        print(
            f"browser: {'report.html, ready':26s} {seconds * 1000:7.0f} ms "
            f"({times['report.html, MB']} MB)",
            file=sys.stderr,
        )
        browser.close()
    return times


if __name__ == "__main__":
    main()
