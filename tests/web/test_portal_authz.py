"""Who may read and change what, for every route of the app (DESIGN.md, "Planner workbench and
dealer portal"): the authorisation matrix of the dealer portal and the JSON API.

The routes are enumerated from the application itself and must equal `MATRIX`, so a new route
fails `test_every_route_is_in_the_matrix` until someone decides who may call it. Then, for every
route: no session -> 401 (API) or a redirect to the sign-in page; a dealer user gets its own
dealer's data and 403/404 for any other dealer's id, tried in paths, query strings and export
file names (other ids, case changes, URL-encoded ids, ``../`` and NUL tricks); no answer to the
dealer holds another dealer's id or name or an internal note; a viewer reads everything and
changes nothing; a planner reads every dealer; a state-changing request without the session's
CSRF token is 403. The world is `conftest.portal_world`: 4 dealers, notes on D001's and D002's
lines, approved, with a small warehouse; the dealer user ``dora`` is bound to D001.
"""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import quote

import pytest
from conftest import AS_OF, DEALER_MARK, INTERNAL_MARK

from warehouse.workbench import Store

PUBLIC, SIGNED_IN, STAFF, PLANNER = "public", "signed in", "staff", "planner"
OWN = "D001"
OTHERS = ("D002", "D003", "D004")
SKU = "SKU-00001"

# (method, path) -> who may call it. SIGNED_IN: any role, a dealer scoped to its own dealer;
# STAFF: planners and viewers (a dealer gets 403); PLANNER: changes (planner + CSRF token).
MATRIX: dict[tuple[str, str], str] = {
    ("POST", "/api/session"): PUBLIC,  # signing in
    ("GET", "/api/session"): SIGNED_IN,
    ("DELETE", "/api/session"): SIGNED_IN,  # signing out: one's own session, with the token
    ("GET", "/api/runs"): SIGNED_IN,
    ("GET", "/api/runs/{as_of}/lines"): SIGNED_IN,
    ("GET", "/api/runs/{as_of}/lines/{dealer_id}/{sku}"): SIGNED_IN,
    ("PATCH", "/api/runs/{as_of}/lines/{dealer_id}/{sku}"): PLANNER,
    ("GET", "/api/runs/{as_of}/approval-preview"): STAFF,
    ("POST", "/api/runs/{as_of}/approve"): PLANNER,
    ("PUT", "/api/forecast-overrides/{dealer_id}/{sku}"): PLANNER,
    ("GET", "/api/forecast-overrides"): STAFF,
    ("GET", "/api/alerts/{as_of}"): SIGNED_IN,
    ("GET", "/api/dealers/{dealer_id}/scorecard"): SIGNED_IN,
    ("GET", "/api/runs/{as_of}/overview"): STAFF,
    ("GET", "/api/audit"): STAFF,
    ("GET", "/api/dealers"): SIGNED_IN,
    ("GET", "/api/dealers/{dealer_id}/cover"): SIGNED_IN,
    ("GET", "/api/dealers/{dealer_id}/incoming"): SIGNED_IN,
    ("GET", "/login"): PUBLIC,
    ("GET", "/"): STAFF,
    ("GET", "/runs/{as_of}/lines"): STAFF,
    ("GET", "/runs/{as_of}/grid"): STAFF,
    ("GET", "/runs/{as_of}/lines/{dealer_id}/{sku}/detail"): STAFF,
    ("GET", "/runs/{as_of}/report"): STAFF,
    ("GET", "/audit"): STAFF,
    ("GET", "/portal"): SIGNED_IN,
    ("GET", "/portal/{dealer_id}"): SIGNED_IN,
    ("GET", "/portal/{dealer_id}/incoming"): SIGNED_IN,
    ("GET", "/portal/{dealer_id}/lines"): SIGNED_IN,
    ("GET", "/portal/{dealer_id}/scorecard"): SIGNED_IN,
    ("GET", "/portal/{dealer_id}/exports/{as_of}/{file_name}"): SIGNED_IN,
}
MOUNTS = {"/static", "/vendor"}  # the app's own JS/CSS and the vendored libraries
BODIES = {
    "PATCH": {"version": 0, "hold": True, "note": "x"},
    "PUT": {"units_per_week": 60, "valid_from": AS_OF, "valid_to": "2025-07-31", "note": "x"},
}
# Other dealers' ids as a path segment: plain, case-changed (own and other), URL-encoded,
# dot-dot and NUL tricks, padding.
OTHER_IDS = (
    *OTHERS,
    "d001",
    "d002",
    "%44002",  # "D002", URL-encoded
    "%64001",  # "d001"
    "..%2FD002",
    "D001%2F..%2FD002",
    "%2E%2E",
    "D002%00",
    "D001%00",
    "D001%20",
    "%20D001",
)
# Other dealers' export names (and tricks) with the dealer's own path.
OTHER_FILES = (
    "D002.csv",
    "D002.xlsx",
    "d002.csv",
    "d001.csv",
    "D001.CSV",
    "D001.Csv",
    "..%2FD002.csv",
    "%2E%2E%2Fexports%2FD002.csv",
    "..%2F..%2F2025-06-30%2Fexports%2FD002.xlsx",
    "D001.csv%00",
    "D001.csv%00.xlsx",
    "D001.csv%2F..%2FD002.csv",
    "D002%7E0000000000.csv",
    "..",
    "%2E%2E",
    "decisions.csv",
    "..%2Fdecisions.csv",
    "..%2Fapproval.json",
)
OTHER_AS_OFS = ("..", "%2E%2E", "2025-06-30%2F..", "2025-6-30", "..%2F..%2Fruns%2F2025-06-30")
FOREIGN = re.compile(r"D00[2-9]|Dealer [2-9]")


def routes(app) -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every endpoint of the app, and the paths of its mounts."""
    endpoints, mounts = set(), set()
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI 0.150: an included router
            for context in route.effective_route_contexts():
                for method in context.original_route.methods - {"HEAD"}:
                    endpoints.add((method, context.path))
        elif getattr(route, "methods", None):
            endpoints.update((m, route.path) for m in route.methods - {"HEAD"})
        else:
            mounts.add(route.path)
    return endpoints, mounts


def url(path: str, **given: str) -> str:
    values = {"as_of": AS_OF, "dealer_id": OWN, "sku": SKU, "file_name": f"{OWN}.csv"}
    values.update(given)
    return path.format(**values)


def send(client, method: str, path: str, token: str | None = None, **params):
    headers = {"X-CSRF-Token": token} if token else {}
    return client.request(method, path, json=BODIES.get(method), headers=headers, **params)


def body_text(response) -> str:
    """The body as text; an XLSX (a zip) as the text of its members."""
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    return response.content.decode("utf-8", "replace")


def assert_clean(response, where: str) -> None:
    """Nothing of another dealer and no internal note in what the dealer got."""
    text = body_text(response)
    found = FOREIGN.search(text)
    assert found is None, f"{where}: another dealer's {found.group()!r} in the answer"
    assert INTERNAL_MARK not in text, f"{where}: an internal note in the answer"


def of(kind: str) -> list[tuple[str, str]]:
    return sorted(key for key, who in MATRIX.items() if who == kind)


def changing() -> list[tuple[str, str]]:
    return sorted(key for key, who in MATRIX.items() if key[0] != "GET" and who != PUBLIC)


def reads() -> list[tuple[str, str]]:
    return sorted(key for key, who in MATRIX.items() if key[0] == "GET" and who != PUBLIC)


def fingerprint(world) -> tuple:
    """What a refused change would have altered: audit trail, line states, approval."""
    store = Store.beside(world.out)
    approval = (world.out / "runs" / AS_OF / "approval.json").read_text()
    return len(store.audit()), sorted(store.line_states(AS_OF).items()), approval


@pytest.fixture(scope="module")
def world(portal_world):
    return portal_world


@pytest.fixture(scope="module")
def dora(world):
    client, token = world.served.signed_in("dora")
    with client:
        yield client, token


@pytest.fixture(scope="module")
def vic(world):
    client, token = world.served.signed_in("vic")
    with client:
        yield client, token


@pytest.fixture(scope="module")
def ann(world):
    client, token = world.served.signed_in("ann")
    with client:
        yield client, token


def test_every_route_is_in_the_matrix(world):
    endpoints, mounts = routes(world.app)
    assert endpoints - set(MATRIX) == set(), "a route nobody decided on: add it to MATRIX"
    assert set(MATRIX) - endpoints == set(), "MATRIX names a route the app no longer has"
    assert mounts == MOUNTS
    # the mounts serve only their own folders
    with world.served.client() as anonymous:
        for path in (
            "/static/..%2F..%2Fruns%2F2025-06-30%2Fexports%2FD001.csv",
            "/static/%2E%2E/web/users.py",
            "/vendor/..%2F..%2F..%2Fweb%2Fapp.py",
        ):
            assert anonymous.get(path).status_code == 404, path


def test_without_a_session_nothing_but_the_sign_in(world):
    with world.served.client() as anonymous:
        for method, path in reads():
            answer = send(anonymous, method, url(path))
            if path.startswith("/api/"):
                assert answer.status_code == 401, path
            else:  # a page sends the browser to the sign-in page
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/login?next="), path
        for method, path in changing():
            assert send(anonymous, method, url(path), "forged").status_code == 401, path
        assert anonymous.get("/login").status_code == 200


def test_a_dealer_reads_its_own_dealer_and_nothing_else(world, dora):
    client, _ = dora
    for method, path in reads():
        where = f"{method} {path}"
        answer = send(client, method, url(path))
        if MATRIX[(method, path)] == STAFF:
            assert answer.status_code == 403, where
        elif path == "/portal":
            assert answer.status_code == 303 and answer.headers["location"] == f"/portal/{OWN}"
        else:
            assert answer.status_code == 200, f"{where}: {answer.status_code} {answer.text[:200]}"
            if "{dealer_id}" in path and path != "/portal/{dealer_id}/exports/{as_of}/{file_name}":
                assert OWN in answer.text, where
        assert_clean(answer, where)
    # the lists a dealer reads hold its own rows only
    lines = client.get(f"/api/runs/{AS_OF}/lines", params={"page_size": 500}).json()
    assert lines["total"] == 12 and {line["dealer_id"] for line in lines["lines"]} == {OWN}
    assert client.get("/api/dealers").json() == [{"dealer_id": OWN, "dealer_name": "Dealer 1"}]
    assert {a["dealer_id"] for a in client.get(f"/api/alerts/{AS_OF}").json()} <= {OWN}


@pytest.mark.parametrize("other", OTHER_IDS)
def test_another_dealers_id_in_a_path_is_refused(world, dora, other):
    client, token = dora
    for method, path in sorted(k for k in MATRIX if "{dealer_id}" in k[1]):
        where = f"{method} {path} with {other}"
        answer = send(client, method, url(path, dealer_id=other), token)
        assert answer.status_code in (403, 404), f"{where}: {answer.status_code}"
        assert_clean(answer, where)


def test_another_dealers_id_in_a_query_string_gets_nothing_of_it(world, dora):
    client, _ = dora
    for method, path in reads():
        for name in ("dealer_id", "dealer", "dealer_ids"):
            where = f"{method} {path}?{name}=D002"
            answer = send(client, method, url(path), params={name: "D002"})
            if MATRIX[(method, path)] == STAFF:
                assert answer.status_code == 403, where
            elif path != "/portal":
                assert answer.status_code in (200, 403, 404), where
            assert_clean(answer, where)
    asked = client.get(f"/api/runs/{AS_OF}/lines", params={"dealer_id": "D002"}).json()
    assert asked == {"lines": [], "total": 0, "page": 1, "page_size": 50}


def test_a_dealer_downloads_its_own_files_only(world, dora):
    client, _ = dora
    exports = world.export_dir()
    base = f"/portal/{OWN}/exports/{AS_OF}"
    for name in (f"{OWN}.csv", f"{OWN}.xlsx"):
        answer = client.get(f"{base}/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (exports / name).read_bytes()
        assert f'filename="{name}"' in answer.headers["content-disposition"]
        assert_clean(answer, name)
        assert DEALER_MARK in body_text(answer)  # the note to the dealer is in its file
    assert (exports / "D002.csv").exists()  # the other dealer's file is there to be refused
    for name in OTHER_FILES:
        answer = client.get(f"{base}/{name}")
        assert answer.status_code in (403, 404), name
        assert_clean(answer, name)
    for as_of in OTHER_AS_OFS:
        answer = client.get(f"/portal/{OWN}/exports/{as_of}/{OWN}.csv")
        assert answer.status_code in (403, 404), as_of
    for other in OTHER_IDS:
        for name in ("D002.csv", f"{OWN}.csv", quote(f"{other}.csv", safe="%")):
            answer = client.get(f"/portal/{other}/exports/{AS_OF}/{name}")
            assert answer.status_code in (403, 404), (other, name)
            assert_clean(answer, f"{other}/{name}")
    # the same tricks unencoded: whatever the client makes of "../", nothing of D002 comes back
    for raw in (f"{base}/../D002.csv", f"/portal/{OWN}/../D002/exports/{AS_OF}/D002.csv",
                f"{base}/..\\D002.csv"):  # fmt: skip
        answer = client.get(raw)
        assert answer.status_code in (403, 404), raw
        assert_clean(answer, raw)


def test_a_viewer_and_a_dealer_cannot_change_anything(world, vic, dora):
    before = fingerprint(world)
    for client, token in (vic, dora):
        for method, path in changing():
            if path == "/api/session":
                continue  # signing out of one's own session is not a change of data
            for dealer in (OWN, "D002"):
                answer = send(client, method, url(path, dealer_id=dealer), token)
                assert answer.status_code == 403, f"{method} {path} {dealer}"
    assert fingerprint(world) == before
    # both are still signed in: nothing above signed them out
    assert vic[0].get("/api/session").status_code == 200
    assert dora[0].get("/api/session").status_code == 200


def test_every_change_needs_the_csrf_token(world, ann, vic):
    client, token = ann
    before = fingerprint(world)
    for method, path in changing():
        for sent in (None, "forged", vic[1], token[:-1]):
            answer = send(client, method, url(path), sent)
            assert answer.status_code == 403, f"{method} {path} with token {sent!r}"
    assert fingerprint(world) == before
    assert client.get("/api/session").status_code == 200  # the sign-out without token failed


@pytest.mark.parametrize("name", ["ann", "vic"])
def test_staff_read_every_dealer(world, name, ann, vic):
    client, _ = ann if name == "ann" else vic
    for dealer in (OWN, "D002"):
        for method, path in reads():
            where = f"{name} {method} {path} {dealer}"
            answer = send(client, method, url(path, dealer_id=dealer, file_name=f"{dealer}.csv"))
            assert answer.status_code == 200, f"{where}: {answer.status_code}"
            if path.startswith("/portal/"):
                # the portal is the dealer's view, for staff too: no internal notes
                assert dealer in answer.text and INTERNAL_MARK not in answer.text, where
        lines = client.get(f"/portal/{dealer}/lines").text
        assert f"{DEALER_MARK} {dealer} {SKU}" in lines
        # a planner's file names are bound to the dealer in the path too
        other = "D002" if dealer == OWN else OWN
        assert client.get(f"/portal/{dealer}/exports/{AS_OF}/{other}.csv").status_code == 404
    index = client.get("/portal").text
    assert all(f"/portal/{d}" in index for d in (OWN, *OTHERS))
    assert len(client.get("/api/dealers").json()) == 4
