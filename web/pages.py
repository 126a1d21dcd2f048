"""The workbench's pages: Jinja2 templates (autoescaped) over the same code as the JSON API.

The grid's table and the drill-down are fragments that htmx swaps in; edits, approval and
forecast overrides go through the JSON API from ``static/workbench.js``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from planner.run_folder import REPORT_FILE, read_run_summary
from web import lines as run_lines
from web.auth import csrf_token, current_user, require_internal
from web.users import User

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
router = APIRouter()
QUEUE_ROWS = 30
# report.html is self-contained (inline script and style): served sandboxed, so its scripts run
# in an opaque origin, with no access to the workbench's session, and it may load nothing.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox allow-scripts"
)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    user = current_user(request)
    context.update(user=user, csrf=csrf_token(request) if user else "")
    return templates.TemplateResponse(request, name, context, status_code=status)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code, status_code=status_code, message=message)


def _latest(request: Request):
    runs = run_lines.run_folders(request.app.state.settings.out)
    if not runs:
        raise HTTPException(404, "no published runs yet: run `vmi run` first")
    return runs


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never //host or a scheme) may follow the sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", next=_safe_next(next))


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request, user: Annotated[User, Depends(require_internal)]):
    runs = _latest(request)
    as_of, folder = runs[0]
    queue = run_lines.exceptions(folder)
    return render(
        request,
        "front.html",
        as_of=as_of.isoformat(),
        runs=[d.isoformat() for d, _ in runs],
        summary=read_run_summary(folder),
        queue=queue.head(QUEUE_ROWS).to_dict("records"),
        alert_total=len(queue),
    )


def _choices(lines: pd.DataFrame) -> dict[str, list[str]]:
    alerts = sorted({a for items in lines["alerts"] for a in items})
    return {
        "dealers": sorted(lines["dealer_id"].unique()),
        "regions": sorted(r for r in lines["region"].unique() if r),
        "classes": sorted(c for c in lines["demand_class"].unique() if c),
        "alerts": alerts,
    }


def _grid_context(request: Request, as_of: str, query: run_lines.Query, user: User) -> dict:
    try:
        found, total = run_lines.query_lines(
            request.app.state.settings.out, as_of, query, store=request.app.state.store
        )
    except run_lines.RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    pages = max(1, -(-total // query.page_size))
    # the query-string names (`class` is `demand_class` in Python)
    params = {
        ("class" if k == "demand_class" else k): v
        for k, v in vars(query).items()
        if v not in (None, "") and k != "page"
    }

    def link(**change) -> str:
        return f"/runs/{as_of}/grid?" + urlencode({**params, **change})

    return {
        "as_of": as_of,
        "lines": found,
        "total": total,
        "query": query,
        "pages": pages,
        "link": link,
        "can_edit": user.can_edit,
    }


def grid_query(
    dealer_id: str | None = None,
    region: str | None = None,
    sku: str | None = None,
    demand_class: Annotated[str | None, Query(alias="class")] = None,
    alert: str | None = None,
    sort: str = run_lines.DEFAULT_SORT,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=10, le=200)] = 50,
) -> run_lines.Query:
    """The grid's filters, sort and page from the query string (empty fields mean "all")."""
    return run_lines.Query(
        dealer_id or None, region or None, sku or None, demand_class or None, alert or None,
        sort, page, page_size,
    )  # fmt: skip


@router.get("/runs/{as_of}/lines", response_class=HTMLResponse)
def grid_page(
    as_of: str,
    request: Request,
    user: Annotated[User, Depends(require_internal)],
    query: Annotated[run_lines.Query, Depends(grid_query)],
):
    context = _grid_context(request, as_of, query, user)
    folder = run_lines.folder_of(request.app.state.settings.out, as_of)
    return render(
        request,
        "grid.html",
        **context,
        choices=_choices(run_lines.load_lines(folder)),
        approved=(folder / "approval.json").exists(),
    )


@router.get("/runs/{as_of}/grid", response_class=HTMLResponse)
def grid_fragment(
    as_of: str,
    request: Request,
    user: Annotated[User, Depends(require_internal)],
    query: Annotated[run_lines.Query, Depends(grid_query)],
):
    return render(request, "grid_table.html", **_grid_context(request, as_of, query, user))


@router.get("/runs/{as_of}/lines/{dealer_id}/{sku}/detail", response_class=HTMLResponse)
def line_detail(
    as_of: str,
    dealer_id: str,
    sku: str,
    request: Request,
    user: Annotated[User, Depends(require_internal)],
):
    out = request.app.state.settings.out
    try:
        folder = run_lines.folder_of(out, as_of)
    except run_lines.RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    line = run_lines.one_line(out, as_of, dealer_id, sku, store=request.app.state.store)
    if line is None:
        raise HTTPException(404, f"no line {dealer_id} / {sku}")
    chart = run_lines.pair_series(folder, dealer_id, sku)
    overrides = request.app.state.store.overrides(dealer_id=dealer_id, sku=sku)
    return render(
        request,
        "detail.html",
        as_of=as_of,
        line=line,
        chart=chart,
        override=overrides[0] if overrides else None,
        can_edit=user.can_edit,
    )


@router.get("/runs/{as_of}/report", response_class=FileResponse)
def report_page(as_of: str, request: Request, user: Annotated[User, Depends(require_internal)]):
    """The run's report.html as published (read-only; the link of the Prefect artifact)."""
    try:
        report = run_lines.folder_of(request.app.state.settings.out, as_of) / REPORT_FILE
    except run_lines.RunNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    if not report.is_file():
        raise HTTPException(404, f"no {REPORT_FILE} in the run of {as_of}")
    return FileResponse(
        report, media_type="text/html", headers={"Content-Security-Policy": REPORT_CSP}
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: Annotated[User, Depends(require_internal)],
    as_of: str | None = None,
):
    rows = request.app.state.store.audit(as_of=as_of or None, limit=1000)
    return render(request, "audit.html", rows=rows, as_of=as_of or "")
