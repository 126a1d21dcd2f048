"""The workbench's JSON API against a real uvicorn server: auth order, CSRF, versions, rules."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import AS_OF

from warehouse.workbench import Store

LINES = f"/api/runs/{AS_OF}/lines"


def suggestions(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "runs" / AS_OF / "suggestions.csv", dtype={"dealer_id": str})


def a_line(out: Path, *, pack_at_least: int = 1) -> pd.Series:
    frame = suggestions(out)
    return frame[frame["pack_size"] >= pack_at_least].sort_values(["dealer_id", "sku"]).iloc[0]


def changing_requests(out: Path) -> list[tuple[str, str, dict | None]]:
    line = a_line(out)
    return [
        ("PATCH", f"{LINES}/{line.dealer_id}/{line.sku}", {"version": 0, "hold": True}),
        ("POST", f"/api/runs/{AS_OF}/approve", None),
        (
            "PUT",
            f"/api/forecast-overrides/{line.dealer_id}/{line.sku}",
            {"units_per_week": 60, "valid_from": AS_OF, "valid_to": "2025-07-31", "note": "x"},
        ),
    ]


def send(client, method: str, path: str, body, token: str | None = None):
    headers = {"X-CSRF-Token": token} if token is not None else {}
    return client.request(method, path, json=body, headers=headers)


def test_every_answer_needs_a_session(served, run_out):
    with served.client() as client:
        for path in (
            "/api/runs",
            LINES,
            f"/api/alerts/{AS_OF}",
            "/api/audit",
            f"/api/runs/{AS_OF}/overview",
            "/api/forecast-overrides",
        ):
            assert client.get(path).status_code == 401, path
        for method, path, body in changing_requests(run_out):
            assert send(client, method, path, body).status_code == 401, path
        assert client.delete("/api/session").status_code == 401
        # pages send the browser to the sign-in page instead
        page = client.get(f"/runs/{AS_OF}/lines", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_changes_need_the_planner_role_then_the_csrf_token(served, run_out):
    viewer, viewer_token = served.signed_in("vic")
    planner, token = served.signed_in("ann")
    with viewer, planner:
        for method, path, body in changing_requests(run_out):
            assert send(viewer, method, path, body, viewer_token).status_code == 403, path
            assert send(planner, method, path, body).status_code == 403, path  # no token
            assert send(planner, method, path, body, "forged").status_code == 403, path
            assert send(planner, method, path, body, viewer_token).status_code == 403, path
        # nothing was written by any refused request
        assert Store.beside(run_out).audit() == []
        assert not (run_out / "runs" / AS_OF / "approval.json").exists()
        # signing out needs the token too
        assert viewer.delete("/api/session").status_code == 403
        assert viewer.delete("/api/session", headers={"X-CSRF-Token": viewer_token}).is_success
        assert viewer.get("/api/runs").status_code == 401


def test_wrong_password_is_refused(served):
    with served.client() as client:
        answer = client.post("/api/session", json={"username": "ann", "password": "nope-nope"})
        assert answer.status_code == 401
        answer = client.post("/api/session", json={"username": "nobody", "password": "x" * 9})
        assert answer.status_code == 401


def test_a_stale_version_gets_409_with_the_current_line(served, run_out):
    line = a_line(run_out)
    path = f"{LINES}/{line.dealer_id}/{line.sku}"
    ann, ann_token = served.signed_in("ann")
    bob, bob_token = served.signed_in("bob")
    with ann, bob:
        first = ann.patch(
            path, json={"version": 0, "note": "ann was here"}, headers={"X-CSRF-Token": ann_token}
        )
        assert first.status_code == 200 and first.json()["version"] == 1
        stale = bob.patch(
            path, json={"version": 0, "note": "bob overwrites"}, headers={"X-CSRF-Token": bob_token}
        )
        assert stale.status_code == 409
        current = stale.json()["current"]
        assert current["note"] == "ann was here" and current["version"] == 1
        assert "ann" in stale.json()["detail"]
        fresh = bob.patch(
            path,
            json={"version": 1, "note": "bob, after reading"},
            headers={"X-CSRF-Token": bob_token},
        )
        assert fresh.status_code == 200 and fresh.json()["version"] == 2
    trail = [(r["user"], r["field"], r["old"], r["new"]) for r in Store.beside(run_out).audit()]
    assert trail == [
        ("ann", "note", "", "ann was here"),
        ("bob", "note", "ann was here", "bob, after reading"),
    ]


def test_an_invalid_quantity_gets_422_with_the_rule_and_nothing_is_saved(served, run_out):
    frame = suggestions(run_out)
    line = frame[(frame["pack_size"] > 1)].iloc[0]
    pack, moq = int(line.pack_size), int(line.moq)
    least = -(-moq // pack) * pack  # the MOQ in whole packs, computed here by hand
    path = f"{LINES}/{line.dealer_id}/{line.sku}"
    client, token = served.signed_in("ann")
    with client:
        headers = {"X-CSRF-Token": token}
        off_pack = client.patch(path, json={"version": 0, "qty": pack + 1}, headers=headers)
        assert off_pack.status_code == 422
        assert f"multiple of pack size {pack}" in off_pack.json()["detail"]
        assert str(pack) in off_pack.json()["rule"]
        assert client.patch(path, json={"version": 0, "qty": -pack}, headers=headers).status_code
        if least > pack:
            below = client.patch(path, json={"version": 0, "qty": pack}, headers=headers)
            assert below.status_code == 422 and "minimum order" in below.json()["detail"]
        held = client.patch(path, json={"version": 0, "qty": least, "hold": True}, headers=headers)
        assert held.status_code == 422
        assert client.get(path).json()["version"] == 0
        assert Store.beside(run_out).audit() == []
        ok = client.patch(path, json={"version": 0, "qty": least * 3}, headers=headers)
        assert ok.status_code == 200 and ok.json()["qty"] == least * 3


def test_lines_filter_sort_and_page_like_pandas(served, run_out):
    frame = suggestions(run_out)
    items = pd.read_csv(run_out / "runs" / AS_OF / "items.csv", dtype={"dealer_id": str})
    merged = frame.merge(items[["dealer_id", "sku", "unit_cost"]], on=["dealer_id", "sku"])
    merged["value"] = merged["suggested_qty"] * merged["unit_cost"]
    client, _ = served.signed_in("vic")
    with client:
        answer = client.get(
            LINES, params={"dealer_id": "D002", "sort": "-value", "page_size": 5, "page": 2}
        ).json()
        expected = merged[merged["dealer_id"] == "D002"].sort_values(
            ["value", "sku"], ascending=[False, True], kind="stable"
        )
        assert answer["total"] == len(expected)
        assert [line["sku"] for line in answer["lines"]] == list(expected["sku"].iloc[5:10])
        for line in answer["lines"]:  # every suggestions.csv column is there
            assert set(frame.columns) <= set(line)
        assert client.get(LINES, params={"sort": "reason"}).status_code == 422


def test_a_dealer_sees_only_its_own_lines_and_never_internal_notes(served, run_out):
    other = suggestions(run_out).query("dealer_id == 'D002'").iloc[0]
    own = suggestions(run_out).query("dealer_id == 'D001'").iloc[0]
    planner, token = served.signed_in("ann")
    with planner:
        planner.patch(
            f"{LINES}/D001/{own.sku}",
            headers={"X-CSRF-Token": token},
            json={"version": 0, "note": "secret margin talk", "dealer_note": "ships Mon"},
        )
    dealer, dealer_token = served.signed_in("dora")
    with dealer:
        answer = dealer.get(LINES, params={"page_size": 500}).json()
        assert answer["total"] > 0 and {ln["dealer_id"] for ln in answer["lines"]} == {"D001"}
        assert all("note" not in line for line in answer["lines"])
        mine = next(line for line in answer["lines"] if line["sku"] == own.sku)
        assert mine["dealer_note"] == "ships Mon"
        assert "secret margin talk" not in dealer.get(LINES, params={"page_size": 500}).text
        assert dealer.get(LINES, params={"dealer_id": "D002"}).json()["total"] == 0
        assert dealer.get(f"{LINES}/D002/{other.sku}").status_code == 404
        alerts = dealer.get(f"/api/alerts/{AS_OF}").json()
        assert {a["dealer_id"] for a in alerts} <= {"D001"}
        assert dealer.get("/api/audit").status_code == 403
        assert dealer.get("/").status_code == 403
        patch = dealer.patch(
            f"{LINES}/D001/{own.sku}",
            json={"version": 1, "qty": 0},
            headers={"X-CSRF-Token": dealer_token},
        )
        assert patch.status_code == 403


def test_approve_writes_the_edited_orders_and_the_audit(served, run_out):
    frame = suggestions(run_out)
    shipping = frame[frame["suggested_qty"] > 0].sort_values(["dealer_id", "sku"])
    changed, held = shipping.iloc[0], shipping.iloc[1]
    new_qty = int(changed.suggested_qty + 2 * changed.pack_size)
    client, token = served.signed_in("ann")
    headers = {"X-CSRF-Token": token}
    with client:
        assert client.patch(
            f"{LINES}/{changed.dealer_id}/{changed.sku}",
            headers=headers,
            json={"version": 0, "qty": new_qty},
        ).is_success
        assert client.patch(
            f"{LINES}/{held.dealer_id}/{held.sku}",
            headers=headers,
            json={
                "version": 0,
                "hold": True,
                "note": "internal why",
                "dealer_note": "back next month",
            },
        ).is_success
        preview = client.get(f"/api/runs/{AS_OF}/approval-preview").json()
        assert preview["changed"] == 1 and preview["held"] == 1
        expected_units = shipping["suggested_qty"].sum() - changed.suggested_qty + new_qty
        expected_units -= held.suggested_qty
        assert preview["units"] == pytest.approx(expected_units)
        answer = client.post(f"/api/runs/{AS_OF}/approve", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["units"] == pytest.approx(expected_units)
    run = run_out / "runs" / AS_OF
    orders = pd.concat(
        pd.read_csv(p, dtype={"dealer_id": str}) for p in (run / "orders").glob("*.csv")
    )
    row = orders[(orders["dealer_id"] == changed.dealer_id) & (orders["sku"] == changed.sku)]
    assert row["qty"].tolist() == [new_qty]
    assert orders[(orders["dealer_id"] == held.dealer_id) & (orders["sku"] == held.sku)].empty
    decisions = pd.read_csv(run / "decisions.csv", dtype={"dealer_id": str}, keep_default_na=False)
    held_row = decisions[
        (decisions["dealer_id"] == held.dealer_id) & (decisions["sku"] == held.sku)
    ]
    assert held_row["is_held"].astype(str).str.lower().tolist() == ["true"]
    assert held_row["dealer_note"].tolist() == ["back next month"]
    trail = Store.beside(run_out).audit(as_of=AS_OF)
    assert [(r["dealer_id"], r["field"], r["new"]) for r in trail if r["action"] == "edit"] == [
        (changed.dealer_id, "qty", str(new_qty)),
        (held.dealer_id, "hold", "True"),
        (held.dealer_id, "note", "internal why"),
        (held.dealer_id, "dealer_note", "back next month"),
    ]
    assert [r["action"] for r in trail][-1] == "approve"


def test_pages_escape_what_planners_type(served, run_out):
    line = a_line(run_out)
    client, token = served.signed_in("ann")
    with client:
        hostile = '"><script>alert(1)</script>'
        client.patch(
            f"{LINES}/{line.dealer_id}/{line.sku}",
            headers={"X-CSRF-Token": token},
            json={"version": 0, "note": hostile},
        )
        page = client.get(f"/runs/{AS_OF}/lines", params={"dealer_id": line.dealer_id}).text
        assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        audit = client.get("/audit").text
        assert hostile not in audit
        csp = client.get("/").headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )


def test_sign_in_never_redirects_off_site(served):
    with served.client() as client:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            page = client.get("/login", params={"next": target}).text
            assert re.search(r'data-next="/"', page), target


def test_grid_links_keep_every_filter(served, run_out):
    client, _ = served.signed_in("vic")
    with client:
        page = client.get(
            f"/runs/{AS_OF}/grid", params={"dealer_id": "D002", "class": "smooth", "sort": "sku"}
        ).text
        links = re.findall(r'href="([^"]+)"', page)
        sort_links = [link for link in links if "sort=" in link]
        assert sort_links and all(
            "class=smooth" in link and "dealer_id=D002" in link for link in sort_links
        )
