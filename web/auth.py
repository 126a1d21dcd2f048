"""Who is asking, what they may do, and the CSRF check of every state-changing request.

Sessions are Starlette's signed cookies (itsdangerous); the session holds the user's name and
a random CSRF token. A state-changing request must send that token as ``X-CSRF-Token``
(compared in constant time). The checks run in the order the API promises: no session 401,
wrong role 403, missing or wrong token 403.

Trusted-header mode (opt-in, for a reverse proxy doing the company's SSO): the proxy puts the
user name in a header (e.g. ``X-Forwarded-User``); the name must be in the users file, which
gives the role. The proxy must strip that header from what clients send.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import HTTPException, Request

from web.users import User

CSRF_HEADER = "X-CSRF-Token"


def users_of(request: Request) -> dict[str, User]:
    return request.app.state.users()


def sign_in(request: Request, user: User) -> str:
    """Start a session for ``user``; returns its CSRF token."""
    request.session.clear()
    token = secrets.token_urlsafe(32)
    request.session.update(user=user.name, csrf=token)
    return token


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (also None when the user was removed from the file)."""
    header = request.app.state.settings.trusted_header
    users = users_of(request)
    if header:
        name = request.headers.get(header, "").strip()
        user = users.get(name) if name else None
        if user is not None and request.session.get("user") != user.name:
            sign_in(request, user)
        return user
    name = request.session.get("user")
    return users.get(name) if name else None


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "sign in first")
    return user


def require_internal(request: Request) -> User:
    """A planner or viewer: the company's own staff, not a dealer."""
    user = require_user(request)
    if user.role == "dealer":
        raise HTTPException(403, "dealers see the dealer portal only")
    return user


def check_csrf(request: Request) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER}: reload the page")


def require_editor(request: Request) -> User:
    """A planner, with the session's CSRF token: for every state-changing planner request."""
    user = require_user(request)
    if not user.can_edit:
        raise HTTPException(403, f"role {user.role} may not change anything")
    check_csrf(request)
    return user


def require_session_change(request: Request) -> User:
    """Any signed-in user with the CSRF token (signing out)."""
    user = require_user(request)
    check_csrf(request)
    return user
