"""The users file: names, roles and argon2 password hashes (``vmi users add``).

A JSON file, ``{"users": [{"name", "role", "dealer_id", "password_hash"}]}``, written
atomically with mode 0600. Roles: ``planner`` (everything), ``viewer`` (read only) and
``dealer`` (bound to one ``dealer_id``: the portal's own lines only).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("planner", "viewer", "dealer")
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


class UsersError(ValueError):
    """A bad users file or a bad user: the one-line message the CLI prints."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    dealer_id: str | None = None
    password_hash: str = ""

    @property
    def can_edit(self) -> bool:
        return self.role == "planner"


def load_users(path: Path) -> dict[str, User]:
    """Name -> user. A missing file is an empty one."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        users = [User(**entry) for entry in raw.get("users", [])]
    except (ValueError, TypeError) as exc:
        raise UsersError(f"{path}: not a users file ({exc})") from None
    for user in users:
        if user.role not in ROLES:
            raise UsersError(f"{path}: user {user.name!r} has unknown role {user.role!r}")
    return {user.name: user for user in users}


def add_user(
    path: Path, name: str, role: str, password: str, *, dealer_id: str | None = None
) -> User:
    """Add or replace a user, hashing the password with argon2id."""
    name = name.strip()
    if not name or any(c.isspace() for c in name):
        raise UsersError(f"user name {name!r}: empty or contains spaces")
    if role not in ROLES:
        raise UsersError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role == "dealer" and not dealer_id:
        raise UsersError("role dealer needs --dealer DEALER_ID")
    if role != "dealer" and dealer_id:
        raise UsersError(f"--dealer is only for role dealer, not {role}")
    if len(password) < 8:
        raise UsersError("password: at least 8 characters")
    users = load_users(path)
    user = User(name, role, dealer_id, _HASHER.hash(password))
    users[name] = user
    _write(Path(path), users)
    return user


def authenticate(users: dict[str, User], name: str, password: str) -> User | None:
    """The user if the password matches its hash, else None (same cost either way)."""
    user = users.get(name)
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _write(path: Path, users: dict[str, User]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"users": [asdict(u) for u in sorted(users.values(), key=lambda u: u.name)]}
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
