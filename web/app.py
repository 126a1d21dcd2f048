"""`create_app`: the workbench's FastAPI application (`vmi serve-web` runs it with uvicorn)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from warehouse.workbench import Store
from web import api, pages, portal
from web.settings import WebSettings
from web.users import load_users

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "planner" / "static" / "vendor"

# Nothing but our own origin: no inline script, no CDN, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def create_app(settings: WebSettings) -> FastAPI:
    app = FastAPI(title="dealer-vmi workbench", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = Store.beside(settings.out)
    users_file = Path(settings.users_file)

    def users():
        return load_users(users_file)  # re-read each time: `vmi users add` needs no restart

    app.state.users = users
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.signing_key(),
        session_cookie="vmi_session",
        max_age=settings.session_hours * 3600,
        same_site="strict",
        https_only=settings.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        wants_page = not request.url.path.startswith("/api/") and request.method == "GET"
        if exc.status_code == 401 and wants_page:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if wants_page:
            return pages.error_page(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.include_router(api.router)
    app.include_router(portal.api_router)
    app.include_router(pages.router)
    app.include_router(portal.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if VENDOR.is_dir():
        app.mount("/vendor", StaticFiles(directory=VENDOR), name="vendor")
    return app
