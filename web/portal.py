"""The dealer portal (DESIGN.md, "Planner workbench and dealer portal"): pages and their API.

A dealer user sees its own dealer only: every route takes the dealer id from the path and
`allowed_dealer` answers 404 ("no such dealer", the id not echoed) when it is not the user's
own, before anything is read. Planners and viewers may open any dealer's portal (the dealer's
view: no internal notes there either). Nothing here changes anything.

Pages: ``/portal`` (a dealer goes to its own; staff pick a dealer), ``/portal/{dealer_id}``
(stock cover, table and chart), ``.../incoming`` (shipments on the way, approved orders),
``.../lines`` (suggested lines with reasons and notes to the dealer, and the order files),
``.../scorecard``, ``.../exports/{as_of}/{file_name}`` (the dealer's own export files only).
API: ``GET /api/dealers``, ``/api/dealers/{dealer_id}/cover``, ``.../incoming``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from web import dealer_view
from web import lines as run_lines
from web.auth import require_user
from web.pages import render
from web.users import User

router = APIRouter()
api_router = APIRouter(prefix="/api")
PAGE_SIZE = 200
NO_DEALER = "no such dealer"


def _out(request: Request):
    return request.app.state.settings.out


def allowed_dealer(request: Request, user: User, dealer_id: str) -> str:
    """``dealer_id`` when ``user`` may see it: a dealer its own id only (exactly, case and
    all); staff any dealer of the newest run. Else 404, without echoing the id."""
    if user.role == "dealer":
        if dealer_id != user.dealer_id:
            raise HTTPException(404, NO_DEALER)
        return dealer_id
    if dealer_id not in {d["dealer_id"] for d in dealer_view.dealers(_out(request))}:
        raise HTTPException(404, NO_DEALER)
    return dealer_id


# ------------------------------------------------------------------------------ API


@api_router.get("/dealers")
def list_dealers(request: Request, user: Annotated[User, Depends(require_user)]) -> list[dict]:
    """Dealers of the newest run: every one for staff, a dealer's own only for a dealer."""
    found = dealer_view.dealers(_out(request))
    if user.role == "dealer":
        found = [d for d in found if d["dealer_id"] == user.dealer_id]
    return found


@api_router.get("/dealers/{dealer_id}/cover")
def get_cover(
    dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]
) -> dict[str, Any]:
    """Per SKU: on hand, in transit, on order, days of cover and target days (newest run)."""
    return dealer_view.cover(_out(request), allowed_dealer(request, user, dealer_id))


@api_router.get("/dealers/{dealer_id}/incoming")
def get_incoming(
    dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]
) -> dict[str, Any]:
    """Shipments on the way and approved orders not yet shipped, with expected arrival."""
    return asdict(dealer_view.incoming(_out(request), allowed_dealer(request, user, dealer_id)))


# ------------------------------------------------------------------------------ pages


@router.get("/portal", response_class=HTMLResponse)
def portal_index(request: Request, user: Annotated[User, Depends(require_user)]):
    if user.role == "dealer":
        return RedirectResponse(f"/portal/{user.dealer_id}", status_code=303)
    return render(request, "portal_index.html", dealers=dealer_view.dealers(_out(request)))


def _context(request: Request, user: User, dealer_id: str, tab: str) -> dict[str, Any]:
    dealer_id = allowed_dealer(request, user, dealer_id)
    latest = dealer_view.latest_run(_out(request))
    return {"dealer_id": dealer_id, "tab": tab, "run_as_of": latest[0] if latest else None}


@router.get("/portal/{dealer_id}", response_class=HTMLResponse)
def portal_cover(dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]):
    context = _context(request, user, dealer_id, "cover")
    found = dealer_view.cover(_out(request), context["dealer_id"])
    return render(request, "portal_cover.html", cover=found, **context)


@router.get("/portal/{dealer_id}/incoming", response_class=HTMLResponse)
def portal_incoming(dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]):
    context = _context(request, user, dealer_id, "incoming")
    found = dealer_view.incoming(_out(request), context["dealer_id"])
    return render(request, "portal_incoming.html", incoming=found, **context)


@router.get("/portal/{dealer_id}/lines", response_class=HTMLResponse)
def portal_lines(
    dealer_id: str,
    request: Request,
    user: Annotated[User, Depends(require_user)],
    page: Annotated[int, Query(ge=1)] = 1,
):
    context = _context(request, user, dealer_id, "lines")
    found, total = [], 0
    if context["run_as_of"]:
        query = run_lines.Query(sort="sku", page=page, page_size=PAGE_SIZE)
        # dealer_scope: this dealer's lines only, and never the internal note
        found, total = run_lines.query_lines(
            _out(request), context["run_as_of"], query,
            store=request.app.state.store, dealer_scope=context["dealer_id"],
        )  # fmt: skip
    return render(
        request,
        "portal_lines.html",
        lines=found,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        files=dealer_view.exports(_out(request), context["dealer_id"]),
        **context,
    )


@router.get("/portal/{dealer_id}/scorecard", response_class=HTMLResponse)
def portal_scorecard(
    dealer_id: str, request: Request, user: Annotated[User, Depends(require_user)]
):
    context = _context(request, user, dealer_id, "scorecard")
    try:
        card, problem = dealer_view.scorecard(_out(request), context["dealer_id"]), None
    except dealer_view.WarehouseUnavailable as exc:
        card, problem = None, str(exc)
    latest = card["quarters"][-1] if card and card["quarters"] else None
    kpis = dealer_view.kpi_rows(latest) if latest else []
    return render(
        request,
        "portal_scorecard.html",
        card=card,
        problem=problem,
        latest=latest,
        kpis=kpis,
        kpi_names=[k["kpi"] for k in kpis],
        **context,
    )


@router.get("/portal/{dealer_id}/exports/{as_of}/{file_name}")
def portal_export(
    dealer_id: str,
    as_of: str,
    file_name: str,
    request: Request,
    user: Annotated[User, Depends(require_user)],
):
    """One of the dealer's own export files; any other name is 404 (the name is only looked
    up among the dealer's own names, never joined to a path as sent)."""
    dealer_id = allowed_dealer(request, user, dealer_id)
    found = dealer_view.export_file(_out(request), dealer_id, as_of, file_name)
    if found is None:
        raise HTTPException(404, "no such file")
    path, media_type = found
    return FileResponse(path, media_type=media_type, filename=path.name)
