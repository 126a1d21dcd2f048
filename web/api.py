"""The JSON API of DESIGN.md, "Planner workbench": the pages use it, an ERP can too.

Every answer needs a session (401); planner-only changes answer 403 to other roles and to a
request without the session's ``X-CSRF-Token``; a stale line version answers 409 with the
line as it stands; an invalid quantity 422 with the rule.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictFloat, StrictInt, model_validator

from planner.approve import ApprovalError
from planner.line_rules import qty_problem, qty_rule
from planner.publish_approval import approve_and_publish
from planner.run_folder import read_run_summary, read_run_table
from warehouse import marts
from warehouse.workbench import StaleVersion, Store
from web import lines as run_lines
from web.auth import (
    require_editor,
    require_internal,
    require_session_change,
    require_user,
    sign_in,
    users_of,
)
from web.users import User, authenticate

router = APIRouter(prefix="/api")
NOTE_MAX = 500


def store_of(request: Request) -> Store:
    return request.app.state.store


def out_of(request: Request):
    return request.app.state.settings.out


def _folder(request: Request, as_of: str):
    try:
        return run_lines.folder_of(out_of(request), as_of)
    except run_lines.RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None


# ------------------------------------------------------------------------------ session


class SignIn(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


def _session_answer(user: User, token: str) -> dict[str, Any]:
    return {"user": user.name, "role": user.role, "dealer_id": user.dealer_id, "csrf_token": token}


@router.post("/session")
def create_session(body: SignIn, request: Request) -> dict[str, Any]:
    user = authenticate(users_of(request), body.username.strip(), body.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    return _session_answer(user, sign_in(request, user))


@router.get("/session")
def read_session(request: Request, user: Annotated[User, Depends(require_user)]) -> dict:
    return _session_answer(user, request.session["csrf"])


@router.delete("/session")
def delete_session(request: Request, user: Annotated[User, Depends(require_session_change)]):
    request.session.clear()
    return {"signed_out": user.name}


# ------------------------------------------------------------------------------ runs


@router.get("/runs")
def list_runs(request: Request, user: Annotated[User, Depends(require_user)]) -> list[dict]:
    out = []
    for day, folder in run_lines.run_folders(out_of(request)):
        summary = read_run_summary(folder)
        entry = {"as_of": day.isoformat(), "run_id": summary.get("run_id"),
                 "status": summary.get("status", "published"),
                 "approved": (folder / "approval.json").exists()}  # fmt: skip
        if user.role != "dealer":
            entry["counts"] = summary.get("counts", {})
        out.append(entry)
    return out


@router.get("/runs/{as_of}/lines")
def get_lines(
    as_of: str,
    request: Request,
    user: Annotated[User, Depends(require_user)],
    dealer_id: str | None = None,
    region: str | None = None,
    sku: str | None = None,
    demand_class: Annotated[str | None, Query(alias="class")] = None,
    alert: str | None = None,
    sort: str = run_lines.DEFAULT_SORT,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=run_lines.MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    _folder(request, as_of)
    query = run_lines.Query(dealer_id, region, sku, demand_class, alert, sort, page, page_size)
    scope = user.dealer_id if user.role == "dealer" else None
    try:
        found, total = run_lines.query_lines(
            out_of(request), as_of, query, store=store_of(request), dealer_scope=scope
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"lines": found, "total": total, "page": page, "page_size": page_size}


@router.get("/runs/{as_of}/lines/{dealer_id}/{sku}")
def get_line(
    as_of: str,
    dealer_id: str,
    sku: str,
    request: Request,
    user: Annotated[User, Depends(require_user)],
) -> dict[str, Any]:
    _folder(request, as_of)
    if user.role == "dealer" and dealer_id != user.dealer_id:
        raise HTTPException(404, "no such line")
    line = run_lines.one_line(
        out_of(request), as_of, dealer_id, sku, store=store_of(request),
        internal=user.role != "dealer",
    )  # fmt: skip
    if line is None:
        raise HTTPException(404, f"no line {dealer_id} / {sku} in run {as_of}")
    return line


class LinePatch(BaseModel):
    version: StrictInt = Field(ge=0)
    qty: StrictFloat | None = None  # "1_2" or "12" as text is not a quantity
    hold: bool | None = None
    note: str | None = Field(default=None, max_length=NOTE_MAX)
    dealer_note: str | None = Field(default=None, max_length=NOTE_MAX)
    snooze_until: date | None = None

    @model_validator(mode="after")
    def _finite(self) -> LinePatch:
        if self.qty is not None and not math.isfinite(self.qty):
            raise ValueError("qty must be a finite number")
        return self


@router.patch("/runs/{as_of}/lines/{dealer_id}/{sku}")
def patch_line(
    as_of: str,
    dealer_id: str,
    sku: str,
    body: LinePatch,
    request: Request,
    user: Annotated[User, Depends(require_editor)],
):
    folder = _folder(request, as_of)
    store = store_of(request)
    line = run_lines.one_line(out_of(request), as_of, dealer_id, sku, store=store)
    if line is None:
        raise HTTPException(404, f"no line {dealer_id} / {sku} in run {as_of}")
    changes = {name: getattr(body, name) for name in body.model_fields_set if name != "version"}
    rule = qty_rule(line["pack_size"], line["moq"])
    if changes.get("qty") is not None:
        problem = qty_problem(
            changes["qty"], line["pack_size"], line["moq"], order_up_to=line["order_up_to"]
        )
        if problem:
            return JSONResponse({"detail": problem, "rule": rule, "field": "qty"}, status_code=422)
    hold = changes.get("hold", line["hold"])
    qty = changes.get("qty", line["qty"])
    if hold and qty:
        return JSONResponse(
            {"detail": "a held line ships nothing: set qty empty or 0, or un-hold it",
             "rule": rule, "field": "hold"}, status_code=422,
        )  # fmt: skip
    if changes.get("snooze_until") is not None:
        if changes["snooze_until"] < date.fromisoformat(run_lines.folder_as_of(folder)):
            return JSONResponse(
                {"detail": "snooze until a date on or after the run's as-of",
                 "field": "snooze_until"}, status_code=422,
            )  # fmt: skip
        changes["snooze_until"] = changes["snooze_until"].isoformat()
    for name in ("note", "dealer_note"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    try:
        store.edit_line(
            run_lines.folder_as_of(folder), dealer_id, sku,
            version=body.version, changes=changes, user=user.name,
        )  # fmt: skip
    except StaleVersion:
        current = run_lines.one_line(out_of(request), as_of, dealer_id, sku, store=store)
        return JSONResponse(
            {"detail": f"changed by {current['updated_by']} at {current['updated_at']}: "
             "here is the line as it stands now", "current": current}, status_code=409,
        )  # fmt: skip
    return run_lines.one_line(out_of(request), as_of, dealer_id, sku, store=store)


# ------------------------------------------------------------------------------ approval


def decisions_frame(request: Request, as_of: str) -> pd.DataFrame:
    """The run's planner edits as `approve_run` decisions (a snooze holds tonight's line)."""
    folder = _folder(request, as_of)
    lines = run_lines.load_lines(folder)
    states = store_of(request).line_states(run_lines.folder_as_of(folder))
    known = set(zip(lines["dealer_id"], lines["sku"], strict=True))
    rows = []
    for (dealer_id, sku), state in sorted(states.items()):
        if (dealer_id, sku) not in known:
            continue
        snoozed = bool(state["snooze_until"]) and state["qty"] is None
        note = state["note"] or (f"snoozed until {state['snooze_until']}" if snoozed else "")
        rows.append(
            {
                "dealer_id": dealer_id,
                "sku": sku,
                "qty": math.nan if state["qty"] is None else state["qty"],
                "hold": bool(state["hold"]) or snoozed,
                "note": note,
                "dealer_note": state["dealer_note"],
            }  # fmt: skip
        )
    columns = ["dealer_id", "sku", "qty", "hold", "note", "dealer_note"]
    return pd.DataFrame(rows, columns=columns)


@router.get("/runs/{as_of}/approval-preview")
def approval_preview(
    as_of: str, request: Request, user: Annotated[User, Depends(require_internal)]
) -> dict[str, Any]:
    folder = _folder(request, as_of)
    lines = run_lines.load_lines(folder)
    decided = decisions_frame(request, as_of).set_index(["dealer_id", "sku"])
    merged = lines.set_index(["dealer_id", "sku"]).join(decided, how="left")
    held = merged["hold"].astype("boolean").fillna(False).astype(bool)
    qty = merged["qty"].astype(float)
    offered = merged["allocated_qty"] if "allocated_qty" in merged else merged["suggested_qty"]
    final = qty.where(qty.notna(), offered.fillna(0.0).where(~held, 0.0))
    cost = merged["unit_cost"].fillna(0.0)
    ships = final > 0
    return {
        "as_of": run_lines.folder_as_of(folder),
        "lines_to_ship": int(ships.sum()),
        "units": float(final.sum()),
        "value": float((final * cost).sum()),
        "suggested_units": float(merged["suggested_qty"].fillna(0.0).sum()),
        "changed": int((qty.notna() & (qty != merged["suggested_qty"])).sum()),
        "held": int(held.sum()),
        "dealers": int(merged.loc[ships].index.get_level_values(0).nunique()),
        "already_approved": (folder / "approval.json").exists(),
    }


@router.post("/runs/{as_of}/approve")
def approve(
    as_of: str, request: Request, user: Annotated[User, Depends(require_editor)]
) -> dict[str, Any]:
    folder = _folder(request, as_of)
    frame = decisions_frame(request, as_of)
    try:
        result, exports = approve_and_publish(
            out_of(request), run_lines.folder_as_of(folder), frame, approved_by=user.name
        )
    except ApprovalError as exc:
        raise HTTPException(422, str(exc)) from None
    except duckdb.IOException as exc:
        raise HTTPException(
            503, f"the warehouse is busy (is the nightly run writing it?): {exc}"
        ) from None
    store_of(request).record(user.name, "approve", as_of=result.as_of.isoformat(),
                             new=result.approval_id)  # fmt: skip
    return {
        "approval_id": result.approval_id,
        "lines": result.lines,
        "changed": result.changed,
        "held": result.held,
        "units": result.units,
        "order_files": [p.name for p in result.order_files],
        "exports": len(exports),
    }


# ------------------------------------------------------------------------------ overrides


class ForecastOverride(BaseModel):
    units_per_week: float = Field(ge=0, le=1e9)
    valid_from: date
    valid_to: date
    note: str = Field(default="", max_length=NOTE_MAX)

    @model_validator(mode="after")
    def _dates(self) -> ForecastOverride:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


@router.put("/forecast-overrides/{dealer_id}/{sku}")
def put_override(
    dealer_id: str,
    sku: str,
    body: ForecastOverride,
    request: Request,
    user: Annotated[User, Depends(require_editor)],
) -> dict[str, Any]:
    runs = run_lines.run_folders(out_of(request))
    if runs:
        lines = run_lines.load_lines(runs[0][1])
        if not ((lines["dealer_id"] == dealer_id) & (lines["sku"] == sku)).any():
            raise HTTPException(404, f"{dealer_id} / {sku} is not a line of the latest run")
    return store_of(request).set_override(
        dealer_id, sku, units_per_week=body.units_per_week, valid_from=body.valid_from,
        valid_to=body.valid_to, note=body.note, user=user.name,
    )  # fmt: skip


@router.get("/forecast-overrides")
def list_overrides(
    request: Request, user: Annotated[User, Depends(require_internal)]
) -> list[dict]:
    return store_of(request).overrides()


# ------------------------------------------------------------------------------ read-only


@router.get("/alerts/{as_of}")
def get_alerts(
    as_of: str, request: Request, user: Annotated[User, Depends(require_user)]
) -> list[dict]:
    alerts = read_run_table(_folder(request, as_of), "alerts")
    if user.role == "dealer":
        alerts = alerts[alerts["dealer_id"] == user.dealer_id]
    alerts = alerts.astype(object).where(alerts.notna(), None)
    return alerts.to_dict("records")


@router.get("/dealers/{dealer_id}/scorecard")
def get_scorecard(
    dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]
) -> dict[str, Any]:
    """The dealer's quarterly scorecard, escalation state, bullwhip ratio and monthly
    cross-territory selling (warehouse marts of the newest run's warehouse, read-only)."""
    if user.role == "dealer" and dealer_id != user.dealer_id:
        raise HTTPException(404, "no such dealer")
    runs = run_lines.run_folders(out_of(request))
    named = read_run_summary(runs[0][1]).get("warehouse") if runs else None
    if not named or not Path(named).exists():
        raise HTTPException(404, "no warehouse known: run `vmi run` first")
    try:
        with duckdb.connect(named, read_only=True) as con:
            parts = marts.dealer_scorecard(con, dealer_id)
    except duckdb.IOException as exc:
        raise HTTPException(503, f"the warehouse is busy (nightly run?): {exc}") from None
    except duckdb.CatalogException:
        raise HTTPException(404, "no scorecard marts in this warehouse yet") from None
    if parts["escalation"].empty and parts["quarters"].empty:
        raise HTTPException(404, f"no dealer {dealer_id}")

    def text(value: Any) -> Any:
        if isinstance(value, pd.Timestamp) and value == value.normalize():
            return value.date().isoformat()  # a DATE column comes back as a midnight Timestamp
        return value.isoformat() if hasattr(value, "isoformat") else value

    def records(frame: pd.DataFrame) -> list[dict]:
        frame = frame.astype(object).where(frame.notna(), None)
        return [{k: text(v) for k, v in row.items()} for row in frame.to_dict("records")]

    escalation = records(parts["escalation"])
    bullwhip = records(parts["bullwhip"])
    return {
        "dealer_id": dealer_id,
        "quarters": records(parts["quarters"]),
        "escalation": escalation[0] if escalation else None,
        "bullwhip": bullwhip[0] if bullwhip else None,
        "channel_conflict": records(parts["channel_conflict"]),  # months, oldest first
    }


@router.get("/runs/{as_of}/overview")
def get_overview(
    as_of: str, request: Request, user: Annotated[User, Depends(require_internal)]
) -> dict:
    return run_lines.run_overview(_folder(request, as_of))


@router.get("/audit")
def get_audit(
    request: Request,
    user: Annotated[User, Depends(require_internal)],
    as_of: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 200,
) -> list[dict]:
    return store_of(request).audit(as_of=as_of, limit=limit)
