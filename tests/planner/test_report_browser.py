"""report.html in a real browser: Debian's headless Chromium driven over the DevTools protocol.

The protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-terminated
JSON), so no port is opened. The test records console errors, uncaught exceptions and any
network request, checks the DOM after the page's script ran, opens a drill-down, and saves a
screenshot. ``make browser`` installs Chromium where apt is available; elsewhere these tests
are skipped.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_report import big_run_folder, make_run_folder

from planner.approve import approve_run
from planner.report import build_report, decode_payload

HOSTILE = "</script><script>window.pwned = 1</script> & <b>bold</b>"

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1366,768",  # a common laptop screen: the page must fit it
    "--remote-debugging-pipe",
]
# A generous safety net against a hung browser, not a speed assertion.
DEADLINE_SECONDS = 180

pytestmark = pytest.mark.browser


class Browser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, profile: Path, log: Path) -> None:
        command_read, self._command_write = os.pipe()
        self._event_read, event_write = os.pipe()

        def wire_pipes() -> None:  # runs in the child: Chromium expects fds 3 (in) and 4 (out)
            os.dup2(command_read, 3)
            os.dup2(event_write, 4)

        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
        )
        os.close(command_read)
        os.close(event_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise RuntimeError("no answer from Chromium (see its log)")
            ready, _, _ = select.select([self._event_read], [], [], remaining)
            if ready:
                chunk = os.read(self._event_read, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the debugging pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._command_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The first event ``method`` not waited for yet (so a second navigation waits anew)."""
        for event in self.events:
            if event.get("method") == method:
                self.events.remove(event)
                return event
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            event = self._receive(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._command_write)
        os.close(self._event_read)
        self._log.close()


class Page:
    """One tab attached with a flat session."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.send(f"{domain}.enable", session=self.session)

    def open(self, url: str) -> str:
        """Navigate and wait for the report's own ready signal; returns 'ready' or 'error'."""
        self.browser.send("Page.navigate", {"url": url}, session=self.session)
        self.browser.wait_event("Page.loadEventFired")
        return self.evaluate("""new Promise(resolve => {
            const done = () => resolve(document.body.dataset.ready === "1" ? "ready" : "error");
            if (document.body.dataset.ready) done();
            else document.addEventListener("vmi-ready", done, { once: true });
        })""")

    def evaluate(self, expression: str) -> Any:
        result = self.browser.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "awaitPromise": True,
                "returnByValue": True,
            },
            session=self.session,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.browser.send("Page.captureScreenshot", {"format": "png"}, session=self.session)[
            "data"
        ]
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> dict[str, list[str]]:
        """Console errors, uncaught exceptions and non-local requests seen so far."""
        errors, requests = [], []
        for event in self.browser.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(str(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:", "blob:")):
                    requests.append(url)
        return {"errors": errors, "requests": requests}


@pytest.fixture
def browser(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium (`make browser` or "
            f"`apt-get install chromium`) to run the browser tests"
        )
    instance = Browser(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        yield instance
    finally:
        instance.close()


def approve_some(out: Path, run_dir: Path) -> dict[str, str]:
    """Hold one ordered line (with a hostile dealer note) and change another; approve."""
    lines = pd.read_csv(run_dir / "suggestions.csv", dtype={"dealer_id": str, "sku": str})
    ordered = lines[lines.suggested_qty > 0].reset_index(drop=True)
    held, changed = ordered.iloc[0], ordered.iloc[1]
    decisions = pd.DataFrame(
        [
            {"dealer_id": held.dealer_id, "sku": held.sku, "hold": True, "note": "internal",
             "dealer_note": HOSTILE},
            {"dealer_id": changed.dealer_id, "sku": changed.sku, "hold": False,
             "qty": changed.suggested_qty + changed.pack_size, "note": "", "dealer_note": ""},
        ]
    )  # fmt: skip
    approve_run(out, "2025-06-30", decisions, approved_by="ana")
    return {"held": held.sku, "held_dealer": held.dealer_id, "changed": changed.sku}


def test_report_in_chromium(tmp_path: Path, browser: Browser) -> None:
    make_run_folder(tmp_path / "out", "2025-06-23", seed=3)
    run_dir = make_run_folder(tmp_path / "out", seasonal=True)
    items = pd.read_csv(run_dir / "items.csv", dtype=str)
    items.loc[items.dealer_id == "D001", "dealer_name"] = HOSTILE
    items.to_csv(run_dir / "items.csv", index=False)
    marked = approve_some(tmp_path / "out", run_dir)
    report = build_report(run_dir)
    page = Page(browser)
    assert page.open(report.as_uri()) == "ready"
    assert page.evaluate("window.pwned === undefined") is True

    # The first screen: three Chart.js charts, drawn on load (pixels on every canvas).
    charts = page.evaluate("""[...document.querySelectorAll('#overview canvas')].map(c => {
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let k = 3; k < pixels.length; k += 4) if (pixels[k]) painted++;
        const box = c.getBoundingClientRect();
        return { id: c.id, chart: Chart.getChart(c) !== undefined, painted,
                 bottom: box.bottom + scrollY, width: box.width };
    })""")
    assert [c["id"] for c in charts] == ["chart-health", "chart-exceptions", "chart-trend"]
    height = page.evaluate("innerHeight")
    for chart in charts:
        assert chart["chart"] and chart["painted"] > 2_000, chart
        assert chart["bottom"] <= height and chart["width"] > 200, chart

    # The lines table: near the top and no wider than the window (Alerts column included).
    layout = page.evaluate("""(() => {
        const table = document.getElementById('lines-table').getBoundingClientRect();
        const alerts = document.querySelector('#lines-head th[data-key="alerts"]')
            .getBoundingClientRect();
        return { top: table.top + scrollY, width: table.width, right: alerts.right,
                 window: innerWidth, page: document.documentElement.scrollWidth };
    })()""")
    assert layout["window"] == 1366
    assert layout["top"] < 1500, layout
    assert layout["width"] <= layout["window"] and layout["right"] <= layout["window"], layout
    assert layout["page"] <= layout["window"], layout  # no horizontal scroll anywhere

    # Approval marks: the held and the changed line, and "approved" on the rest.
    marks = page.evaluate("""(() => {
        const col = [...document.querySelectorAll('#lines-head th')]
            .findIndex(th => th.dataset.key === 'decision');
        const sku = [...document.querySelectorAll('#lines-head th')]
            .findIndex(th => th.dataset.key === 'sku');
        const select = document.getElementById('f-decision');
        select.value = '';
        const out = {};
        for (const code of ['3', '2']) {
            select.value = code;
            select.dispatchEvent(new Event('change'));
            out[code] = [...document.querySelectorAll('#lines-body tr[data-i]')]
                .map(tr => [tr.cells[sku].textContent, tr.cells[col].textContent]);
        }
        select.value = '';
        select.dispatchEvent(new Event('change'));
        return out;
    })()""")
    assert marks["3"] == [[marked["held"], "held"]]
    assert len(marks["2"]) == 1 and marks["2"][0][0] == marked["changed"]
    assert "\u2192" in marks["2"][0][1]

    # A row far down the table opens its drill-down in view, without any scrolling.
    drill = page.evaluate("""(() => {
        const rows = document.querySelectorAll('#lines-body tr[data-i]');
        const row = rows[rows.length - 1];
        row.scrollIntoView({ block: 'end' });
        const before = scrollY;
        row.click();
        const box = document.getElementById('drill');
        const rect = box.getBoundingClientRect();
        return { hidden: box.hidden, top: rect.top, bottom: rect.bottom, left: rect.left,
                 height: innerHeight, width: innerWidth, scrolled: scrollY - before,
                 title: box.querySelector('h3').textContent, sku: row.cells[1].textContent };
    })()""")
    assert drill["hidden"] is False and drill["scrolled"] == 0
    assert 0 <= drill["top"] < drill["height"] and drill["bottom"] <= drill["height"] + 1
    assert 0 < drill["left"] < drill["width"]
    assert drill["sku"] in drill["title"]
    assert (
        page.evaluate("""(() => {
        document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
        return document.getElementById('drill').hidden;
    })()""")
        is True
    )

    # The held line's drill-down shows the dealer note as text, never as markup.
    note = page.evaluate(f"""(() => {{
        const text = document.getElementById('f-sku');
        text.value = {json.dumps(marked["held"])};
        text.dispatchEvent(new Event('input'));
        const row = [...document.querySelectorAll('#lines-body tr[data-i]')]
            .find(tr => tr.cells[0].textContent === {json.dumps(marked["held_dealer"])});
        row.click();
        const found = document.querySelector('#drill .decision').textContent;
        text.value = '';
        text.dispatchEvent(new Event('input'));
        return found;
    }})()""")
    assert HOSTILE in note and "Held" in note
    assert page.evaluate("document.querySelectorAll('#drill b, body > b').length") == 0

    # A click on a bar of the network-health chart filters the lines to that dealer.
    # (Chart.js handles canvas events on the next animation frame.)
    clicked = page.evaluate("""new Promise(resolve => {
        const canvas = document.getElementById('chart-health');
        const chart = Chart.getChart(canvas);
        const bar = chart.getDatasetMeta(0).data[0];
        const box = canvas.getBoundingClientRect();
        canvas.dispatchEvent(new MouseEvent('click', { bubbles: true,
            clientX: box.left + bar.x, clientY: box.top + (bar.y + bar.base) / 2 }));
        requestAnimationFrame(() => requestAnimationFrame(() => {
            const select = document.getElementById('f-dealer');
            const shown = select.options[select.selectedIndex].textContent;
            select.value = '';
            select.dispatchEvent(new Event('change'));
            resolve({ label: chart.data.labels[0], shown });
        }));
    })""")
    assert clicked["shown"].startswith(clicked["label"])

    # "Since last run": collapsed, and its filter keeps one change type.
    changes = page.evaluate("""(() => {
        const details = document.getElementById('changes-details');
        const wasOpen = details.open;
        details.open = true;
        const type = document.getElementById('c-type');
        type.value = 'qty_changed';
        type.dispatchEvent(new Event('change'));
        const rows = [...document.querySelectorAll('#changes-table tbody tr')];
        return { wasOpen, visible: rows.filter(tr => !tr.hidden).map(tr => tr.dataset.change),
                 total: rows.length };
    })()""")
    assert changes["wasOpen"] is False
    assert changes["visible"] and set(changes["visible"]) == {"qty_changed"}
    assert changes["total"] > len(changes["visible"])

    assert page.evaluate("document.querySelectorAll('#lines-body tr[data-i]').length") == 30
    assert page.evaluate("document.getElementById('vmi-errors').hidden") is True
    assert page.evaluate("document.getElementById('count').textContent") == "30 of 30 lines"

    # Filter by dealer: only that dealer's ten lines remain.
    dealers = page.evaluate("""(() => {
        const select = document.getElementById('f-dealer');
        select.value = '1';
        select.dispatchEvent(new Event('change'));
        return [...document.querySelectorAll('#lines-body tr[data-i]')]
            .map(tr => tr.cells[0].textContent);
    })()""")
    assert dealers == ["D002"] * 10

    # Sort by the suggested quantity (descending on first click).
    shown = page.evaluate("""(() => {
        document.querySelector('#lines-head th[data-key="suggested_qty"]').click();
        const col = [...document.querySelectorAll('#lines-head th')]
            .findIndex(th => th.dataset.key === 'suggested_qty');
        return [...document.querySelectorAll('#lines-body tr[data-i]')]
            .map(tr => Number(tr.cells[col].textContent.replace(/,/g, '')));
    })()""")
    assert len(shown) == 10 and shown == sorted(shown, reverse=True)

    # Drill-down of the first row: two SVG charts with history, band, forecast, projections.
    drill = page.evaluate("""(() => {
        const row = document.querySelector('#lines-body tr[data-i]');
        row.click();
        const box = document.getElementById('drill');
        const count = sel => box.querySelectorAll(sel).length;
        return { i: Number(row.dataset.i), hidden: box.hidden, svgs: count('svg'),
                 hist: count('path.hist'),
                 band: count('path.band'), fc: count('path.fc'), with: count('path.with'),
                 without: count('path.without'), season: count('path.season'),
                 atLeast: [...box.querySelectorAll('g.censored title')].map(t => t.textContent),
                 reason: box.querySelector('.reason').textContent };
    })()""")
    assert drill["hidden"] is False and drill["svgs"] == 3
    assert drill == {**drill, "hist": 1, "band": 1, "fc": 1, "with": 1, "without": 1, "season": 1}
    # Each stock-out week is drawn as a lower bound ("at least"), one mark per censored week.
    data = decode_payload(report.read_text(encoding="utf-8"))
    assert len(drill["atLeast"]) == data["censored"][drill["i"]].count("1")
    assert all("at least" in text for text in drill["atLeast"])
    assert drill["reason"].startswith("Order-up-to ")

    # Projection maths, hand-worked: 10 on hand, 2/day, 4 in transit + order of 6 arriving on
    # day 3 -> 10, 8, 6, 6-2+4+6 = 14, 12, 10.
    assert page.evaluate("vmiProjectOnHand(10, 4, 0, 2, 3, 5, 6)") == [10, 8, 6, 14, 12, 10]

    # A click on a static exception row opens that line's drill-down.
    title = page.evaluate("""(() => {
        document.querySelector('#exceptions tr[data-sku^="SKU"]').click();
        return document.querySelector('#drill h3').textContent;
    })()""")
    assert "SKU-" in title

    shot = page.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.problems() == {"errors": [], "requests": []}


@pytest.mark.slow
def test_a_20000_line_report_pages_its_rows(make_once, tmp_path: Path, browser: Browser) -> None:
    """Its load time is printed by benchmarks/bench_workbench.py, not asserted here."""
    run_dir = big_run_folder(make_once, tmp_path / "out")
    # By default the page embeds the lines reviewed first and says how many it leaves out.
    report = build_report(run_dir)
    page = Page(browser)
    assert page.open(report.as_uri()) == "ready"
    embedded = decode_payload(report.read_text(encoding="utf-8"))["n"]
    assert page.evaluate("document.getElementById('count').textContent") == (
        f"{embedded} of {embedded} lines in this page (20000 in the run)"
    )
    notice = page.evaluate("document.getElementById('not-embedded').innerText")
    assert (
        f"{20_000 - embedded:,} lines are not in this page" in notice and "vmi serve-web" in notice
    )
    # Opened from disk, there is no workbench to link to.
    assert page.evaluate("document.getElementById('workbench-link').hidden") is True
    # Every line embedded: one page of rows in the DOM, not 20,000.
    report = build_report(run_dir, max_lines=None)
    assert page.open(report.as_uri()) == "ready"
    assert page.evaluate("document.querySelectorAll('#lines-body tr').length") == 100
    assert page.evaluate("document.getElementById('count').textContent") == "20000 of 20000 lines"
    assert (
        page.evaluate("""(() => {
        document.querySelector('#lines-body tr[data-i]').click();
        return document.querySelectorAll('#drill svg').length;
    })()""")
        == 2
    )
    assert page.problems() == {"errors": [], "requests": []}


def test_a_short_supply_line_shows_what_can_ship(tmp_path: Path, browser: Browser) -> None:
    from planner.run_folder import read_run_table, write_csv

    run_dir = make_run_folder(tmp_path / "out")
    lines = read_run_table(run_dir, "suggestions")
    cut = int(lines["suggested_qty"].fillna(0).to_numpy().argmax())
    asked = int(lines.loc[cut, "suggested_qty"])
    lines["allocated_qty"] = lines["suggested_qty"]
    lines.loc[cut, "allocated_qty"] = asked // 2
    write_csv(lines, run_dir / "suggestions.csv")
    page = Page(browser)
    assert page.open(build_report(run_dir).as_uri()) == "ready"
    shown = page.evaluate(f"""(() => {{
        const text = document.getElementById('f-sku');
        text.value = {json.dumps(lines.loc[cut, "sku"])};
        text.dispatchEvent(new Event('input'));
        const row = [...document.querySelectorAll('#lines-body tr[data-i]')]
            .find(tr => tr.cells[0].textContent === {json.dumps(lines.loc[cut, "dealer_id"])});
        row.click();
        return [...document.querySelectorAll('#drill dl > div')]
            .map(d => [d.querySelector('dt').textContent, d.querySelector('dd').textContent]);
    }})()""")
    details = dict(shown)
    assert details["Allocated qty (supply short)"] == str(asked // 2)
    assert details["Suggested qty"] == str(asked)
    assert list(details).index("Allocated qty (supply short)") == len(details) - 3
