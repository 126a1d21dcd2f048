"""Workbench fixtures: a run folder, a users file and the app served by a real uvicorn server."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planner"))
from test_report import make_run_folder  # noqa: E402

from web.app import create_app  # noqa: E402
from web.cli import ReadyServer  # noqa: E402
from web.settings import WebSettings  # noqa: E402
from web.users import add_user  # noqa: E402

AS_OF = "2025-06-30"
PASSWORDS = {"ann": "ann-planner-1", "bob": "bob-planner-2", "vic": "vic-viewer-3",
             "dora": "dora-dealer-4"}  # fmt: skip


@pytest.fixture
def run_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    make_run_folder(out, AS_OF, dealers=4, skus=12, stale_dealer=None)
    return out


@pytest.fixture
def users_file(make_once, tmp_path: Path) -> Path:
    """The four users, each test with its own copy of one file made once per session
    (tests/conftest.py `make_once`): argon2 takes about a second for the four hashes."""

    def make(folder: Path) -> str:
        path = folder / "users.json"
        add_user(path, "ann", "planner", PASSWORDS["ann"])
        add_user(path, "bob", "planner", PASSWORDS["bob"])
        add_user(path, "vic", "viewer", PASSWORDS["vic"])
        add_user(path, "dora", "dealer", PASSWORDS["dora"], dealer_id="D001")
        return ""

    path = tmp_path / "users.json"
    shutil.copy(make_once("web-users", make) / "users.json", path)
    return path


class Client(httpx.Client):
    """An httpx client usable in `with` after its first request (it closes on exit)."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Served:
    """The workbench on a free loopback port, in a thread of this process."""

    def __init__(self, settings: WebSettings) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = ReadyServer(config)  # what `vmi serve-web` runs
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        # the timeout only turns a hung start into a failure
        if not self.server.settled.wait(timeout=120) or not self.server.started:
            raise RuntimeError("the workbench did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def client(self) -> Client:
        return Client(base_url=self.url, timeout=30)

    def signed_in(self, name: str) -> tuple[Client, str]:
        """A client with a session of ``name`` and its CSRF token."""
        client = self.client()
        answer = client.post("/api/session", json={"username": name, "password": PASSWORDS[name]})
        assert answer.status_code == 200, answer.text
        return client, answer.json()["csrf_token"]


@pytest.fixture
def served(run_out: Path, users_file: Path):
    settings = WebSettings(out=run_out, users_file=users_file, secret_key="test-secret-key")
    with Served(settings) as app:
        yield app


# ------------------------------------------------------------------------------ dealer portal

PORTAL_SKUS = [f"SKU-{j:05d}" for j in range(1, 13)]
INTERNAL_MARK = "INTERNAL-NOTE"
DEALER_MARK = "NOTE-FOR"


def portal_warehouse(path: Path, out: Path) -> None:
    """A small warehouse with the tables the portal reads, their real names and columns
    (a subset of each; tests/web/test_portal_data.py checks them against the dbt models)."""
    import duckdb
    import pandas as pd

    from warehouse import connect

    lines = pd.read_csv(out / "runs" / AS_OF / "suggestions.csv", dtype={"dealer_id": str})
    con = connect(path)  # a real warehouse: marker, raw.approved_lines
    try:
        for schema in ("intermediate", "marts"):
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create table intermediate.int_as_of_date as select date '2025-06-30' as as_of_date,"
            " date '2025-06-29' as max_feed_date, true as is_as_of_from_var"
        )
        leads = lines[["dealer_id", "sku", "lead_time_days"]]
        con.register("leads", leads)
        con.execute("create table marts.fct_replenishment_inputs as select * from leads")
        con.execute(
            "create table intermediate.int_inventory_latest as select dealer_id, sku,"
            " on_hand, date '2025-06-29' as last_snapshot_date from leads cross join"
            " (select 1.0 as on_hand)"
        )
        con.unregister("leads")
        # S1, S2, S4: on the way for D001; S3 received before the count; S6 ships after as_of;
        # S5 is D002's
        con.execute(
            "create table intermediate.int_shipments_restated as select * from (values"
            " ('S1', 'D001', 'SKU-00001', 6.0, date '2025-06-25', date '2025-07-03', null),"
            " ('S2', 'D001', 'SKU-00002', 4.0, date '2025-06-28', null, null),"
            " ('S3', 'D001', 'SKU-00003', 5.0, date '2025-06-10', date '2025-06-14',"
            "  date '2025-06-15'),"
            " ('S4', 'D001', 'SKU-00003', 7.0, date '2025-06-27', date '2025-06-30',"
            "  date '2025-06-30'),"
            " ('S5', 'D002', 'SKU-00001', 9.0, date '2025-06-26', date '2025-07-01', null),"
            " ('S6', 'D001', 'SKU-00001', 3.0, date '2025-07-02', date '2025-07-06', null))"
            " t(shipment_id, dealer_id, sku, shipped_qty, ship_date, expected_date,"
            " received_date)"
        )
        # Earlier approvals: D001 SKU-00004 10 units open; SKU-00005 6 then 4, 4 still open
        # (the newest); D002 SKU-00004 open, with an internal note.
        con.execute(
            "insert into raw.approved_lines (approval_id, run_id, as_of, dealer_id, sku,"
            " suggested_qty, approved_qty, is_held, note, approved_by, approved_at) values"
            " ('A1', 'r1', date '2025-06-23', 'D001', 'SKU-00004', 10, 10, false,"
            f"  '{INTERNAL_MARK} a1', 'ann', timestamp '2025-06-23 09:00:00'),"
            " ('A0', 'r0', date '2025-06-16', 'D001', 'SKU-00005', 6, 6, false, '', 'ann',"
            "  timestamp '2025-06-16 09:00:00'),"
            " ('A1', 'r1', date '2025-06-23', 'D001', 'SKU-00005', 4, 4, false, '', 'ann',"
            "  timestamp '2025-06-23 09:00:00'),"
            " ('A1', 'r1', date '2025-06-23', 'D002', 'SKU-00004', 8, 8, false,"
            f"  '{INTERNAL_MARK} a1 D002', 'ann', timestamp '2025-06-23 09:00:00')"
        )
        con.execute(
            "create table intermediate.int_on_order_computed as select * from (values"
            " ('D001', 'SKU-00004', 10.0, 0.0, 10.0, date '2025-06-23'),"
            " ('D001', 'SKU-00005', 10.0, 6.0, 4.0, date '2025-06-16'),"
            " ('D002', 'SKU-00004', 8.0, 0.0, 8.0, date '2025-06-23'))"
            " t(dealer_id, sku, approved_qty, shipped_qty_since_first_approval, on_order,"
            " first_approval_date)"
        )
        con.execute(
            "create table marts.fct_dealer_scorecard_quarterly as select * from (values"
            " ('D001', date '2025-01-01', 'gold', 0.62, 0.5, true, 0.8, 0.6, false),"
            " ('D001', date '2025-04-01', 'gold', 0.31, 0.5, false, 0.4, 0.6, true),"
            " ('D002', date '2025-04-01', 'silver', 0.93, 0.5, true, 1.0, 0.6, false))"
            " t(dealer_id, quarter_start, tier, sell_through_rate, sell_through_rate_benchmark,"
            " sell_through_rate_passed, score, min_score, below_benchmark)"
        )
        con.execute(
            "create table marts.fct_dealer_escalation as select * from (values"
            " ('D001', 'warning', date '2025-04-01'), ('D002', 'ok', date '2025-01-01'))"
            " t(dealer_id, state, since_quarter)"
        )
        con.execute(
            "create table marts.fct_bullwhip as select * from (values"
            " ('D001', null, true, 1.7), ('D002', null, true, 2.9))"
            " t(dealer_id, sku, is_dealer_total, variance_ratio)"
        )
        con.execute(
            "create table marts.dim_dealers as select * from (values"
            " ('D001', 'Dealer 1'), ('D002', 'Dealer 2')) t(dealer_id, dealer_name)"
        )
    finally:
        con.close()
    duckdb.connect(str(path)).close()  # checkpointed and free for read-only opens


class PortalWorld:
    """A published run of 4 dealers x 12 SKUs with a warehouse, notes on D001's and D002's
    first lines (internal and to the dealer), one D001 line held, approved by a planner
    through the API (so exports, decisions and raw.approved_lines exist)."""

    def __init__(self, served: Served, out: Path) -> None:
        self.served = served
        self.out = out
        self.app = served.server.config.app

    def export_dir(self) -> Path:
        return self.out / "runs" / AS_OF / "exports"


@pytest.fixture(scope="module")
def portal_world(tmp_path_factory):
    import json

    root = tmp_path_factory.mktemp("portal")
    out = root / "out"
    make_run_folder(out, AS_OF, dealers=4, skus=12, stale_dealer=None)
    warehouse = root / "warehouse.duckdb"
    portal_warehouse(warehouse, out)
    summary = out / "runs" / AS_OF / "run_summary.json"
    payload = json.loads(summary.read_text()) if summary.exists() else {}
    summary.write_text(json.dumps({**payload, "warehouse": str(warehouse)}))
    users = root / "users.json"
    for name in ("ann", "vic"):
        add_user(users, name, "planner" if name == "ann" else "viewer", PASSWORDS[name])
    add_user(users, "dora", "dealer", PASSWORDS["dora"], dealer_id="D001")
    settings = WebSettings(out=out, users_file=users, secret_key="portal-secret-key")
    with Served(settings) as served:
        planner, token = served.signed_in("ann")
        with planner:
            for dealer in ("D001", "D002"):
                for sku in PORTAL_SKUS[:3]:
                    body = {"version": 0, "note": f"{INTERNAL_MARK} {dealer} {sku}",
                            "dealer_note": f"{DEALER_MARK} {dealer} {sku}"}  # fmt: skip
                    if (dealer, sku) == ("D001", PORTAL_SKUS[2]):
                        body.update(hold=True, qty=None)
                    answer = planner.patch(
                        f"/api/runs/{AS_OF}/lines/{dealer}/{sku}",
                        json=body, headers={"X-CSRF-Token": token},
                    )  # fmt: skip
                    assert answer.status_code == 200, answer.text
            approved = planner.post(f"/api/runs/{AS_OF}/approve", headers={"X-CSRF-Token": token})
            assert approved.status_code == 200, approved.text
        yield PortalWorld(served, out)
